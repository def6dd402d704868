/* placeholder: being written */
typedef int pm_placeholder_t;
