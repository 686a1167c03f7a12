/*
 * Configurations for the unit tests of option readers (tests/unit/
 * {config,direct,plan,preflight}): one built from flags, and a temporary
 * file (a config file, a password file) in $TMPDIR.
 */
#ifndef MF_TESTCONF_H
#define MF_TESTCONF_H

struct mf_config;

/* A new config with the flags "key", "value", ..., NULL
 * (mf_config_set_flag()), and nothing from the environment: every
 * MAILFERRY_* variable is unset first. The caller frees it. */
struct mf_config *mf_testconf_flags(const char *first, ...);

/* Writes content to a new file $TMPDIR/<name>-XXXXXX (/tmp without
 * TMPDIR) and returns its path, which the caller unlinks and frees. A
 * file that cannot be written aborts the test, with a line on stderr. */
char *mf_testconf_file(const char *name, const char *content);

#endif
