/* train/bundle_cmds.h — pipewatch-train's commands on bundles: inspect,
 * diff, verify and promote. Each takes the arguments after its name and
 * returns the process exit code (0 success, 1 failure or difference, 2 bad
 * usage), printing results on stdout and errors on stderr. */
#ifndef PW_TRAIN_BUNDLE_CMDS_H
#define PW_TRAIN_BUNDLE_CMDS_H

int pw_cmd_inspect(int argc, char **argv);
int pw_cmd_diff(int argc, char **argv);
int pw_cmd_verify(int argc, char **argv);
int pw_cmd_promote(int argc, char **argv);

#endif
