/* agent/agent.h — placeholder, being written */
#ifndef PW_AGENT_H
#define PW_AGENT_H
#endif
