#ifndef BACKFILL_CLI_STATUS_FORMAT_H_
#define BACKFILL_CLI_STATUS_FORMAT_H_

#include <string>
#include <vector>

#include "backfill/engine/checkpoint.h"

namespace backfill {

// `backfill status`: an aligned table, one job per line, with a header.
std::string FormatStatusTable(const std::vector<Checkpoint>& checkpoints);

// `backfill status --json`: one JSON object per checkpoint.
std::string CheckpointToJson(const Checkpoint& checkpoint);

}  // namespace backfill

#endif  // BACKFILL_CLI_STATUS_FORMAT_H_
