/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Running things inside machines over D-Bus: ExecInMachine, OpenMachinePTY/Login/Shell and the
 * per-machine Exec, OpenPTY, OpenLogin, OpenShell.
 *
 * ExecInMachine(s name, s user, as argv, as env, s cwd, h stdin, h stdout, h stderr)
 *   → (i exit_status, i signal): argv runs inside the machine (name ".host": on the host) as
 *   USER ("" = root, looked up in the machine's own /etc/passwd) with exactly the three fds as
 *   0, 1, 2, in CWD ("" = "/"), with a clean environment plus ENV. The reply comes when it ends:
 *   (status, 0) when it exited, (-1, signal) when a signal killed it. Errors: InvalidArgs (before
 *   polkit), NoSuchMachine, NoSuchUser, NoSuchCommand, TooManyOperations, AccessDenied. polkit
 *   action org.berth.machine1.shell (host-shell for ".host"), details machine, verb, user,
 *   command_line. The command is killed when the caller disconnects before it ends. */
#pragma once

#include "manager.h"

/* Exec and the PTY, Login and Shell methods, on the Manager and on Machine objects (added by manager_bus_register()). */
extern const sd_bus_vtable exec_manager_vtable[];
extern const sd_bus_vtable exec_machine_vtable[];
