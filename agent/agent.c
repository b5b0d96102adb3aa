#include "agent/agent.h"
