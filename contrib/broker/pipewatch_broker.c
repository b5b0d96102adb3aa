/* placeholder: the development broker is being written */
int main(void) { return 0; }
