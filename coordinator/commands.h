/* The coordinator's commands; each returns a process exit code (cli.h). */
#ifndef MF_COMMANDS_H
#define MF_COMMANDS_H

#include <stdbool.h>

int cmd_csv_validate(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_endpoint_test(int argc, char **argv);
int cmd_endpoint_dns(int argc, char **argv);
int cmd_batch_create(int argc, char **argv);
int cmd_batch_start(int argc, char **argv);
int cmd_batch_status(int argc, char **argv);
int cmd_batch_stop(int argc, char **argv);
int cmd_batch_sync(int argc, char **argv);
int cmd_batch_complete(int argc, char **argv);
int cmd_batch_report(int argc, char **argv);
int cmd_batch_list(int argc, char **argv);
int cmd_batch_remove(int argc, char **argv);
int cmd_batch_set(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_key_generate(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_batch_compare(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_batch_verify(int argc, char **argv);
int cmd_batch_add(int argc, char **argv);
int cmd_batch_update(int argc, char **argv);
int cmd_batch_drop(int argc, char **argv);
int cmd_batch_retry(int argc, char **argv);
/* `batch start|sync|stop NAME --mailbox ...` (cmd_batch_edit.c): whether
 * argv names mailboxes, and the command for them. */
bool batch_mailbox_given(int argc, char **argv);
int batch_mailbox_action(int argc, char **argv, const char *command);

#endif
