/* The coordinator's commands; each returns a process exit code (cli.h). */
#ifndef MF_COMMANDS_H
#define MF_COMMANDS_H

int cmd_csv_validate(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_endpoint_test(int argc, char **argv);
int cmd_endpoint_dns(int argc, char **argv);

#endif
