// weir under systemd (weir@.service, docs/operations.md): readiness for
// Type=notify, and log entries in the journal with the node as a field.
// Outside systemd both do nothing, so a terminal or a test sees no change.
#pragma once

#include <string>

namespace weir::systemd {

// Sends STATE ("READY=1", "STOPPING=1") to the service manager's $NOTIFY_SOCKET;
// nothing when it is unset.
void notify(const char* state);

// When stderr is the journal ($JOURNAL_STREAM names it) and weir was built with
// libsystemd: writes one entry (MESSAGE "[node] text", PRIORITY from LEVEL,
// WEIR_NODE = NODE unless empty) and returns true. Otherwise false: the caller
// writes its line to stderr as usual.
bool journal(const std::string& node, int level, const std::string& message);

}  // namespace weir::systemd
