#pragma once

// shoalctl's per-command help (`shoalctl COMMAND --help`): the synopsis and what the command
// does. The overview of every command and of the common options is main.cc's usage text.

#include <string>
#include <string_view>

namespace shoal::tools {

// The help of `command` (ends with a newline), or an empty string for a command without its own
// entry (the caller prints the overview instead).
std::string CommandHelp(std::string_view command);

}  // namespace shoal::tools
