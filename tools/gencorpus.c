/* placeholder: being written */
typedef int pm_placeholder_t;
int main(void) { return 0; }
