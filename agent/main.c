/* placeholder until the agent lands in this session */
int main(void) { return 0; }
