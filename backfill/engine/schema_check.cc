#include "backfill/engine/schema_check.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace backfill {
namespace {

bool SameName(absl::string_view a, absl::string_view b, NameRule rule) {
  return rule == NameRule::kExact ? a == b : absl::EqualsIgnoreCase(a, b);
}

absl::Status NoColumn(absl::string_view column, const TableFacts& t) {
  return absl::NotFoundError(absl::StrCat(
      "column \"", column, "\" does not exist in table \"", t.display, "\""));
}

absl::Status Require(const std::optional<bool>& held,
                     absl::string_view privilege, const TableFacts& t) {
  if (!held.has_value() || *held) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("permission denied: this user lacks ", privilege, " on \"",
                   t.display, "\""));
}

absl::Status MatchKey(const JobSpec& spec, const TableFacts& walked,
                      NameRule rule, SchemaMatch* m) {
  const std::vector<std::string>& key =
      spec.key.empty() ? walked.primary_key : spec.key;
  if (key.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "table \"", walked.display,
        "\" has no primary key; give the job a key (`key` COLS) naming NOT "
        "NULL, indexed columns"));
  }
  for (const std::string& k : key) {
    const ColumnFacts* c = FindColumn(walked, k, rule);
    if (c == nullptr) return NoColumn(k, walked);
    if (!c->not_null) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key column \"", k, "\" of \"", walked.display, "\" is nullable"));
    }
    if (!c->walkable) {
      return absl::FailedPreconditionError(absl::StrCat(
          "key column \"", k, "\" of \"", walked.display, "\" has type ",
          c->type,
          ", which cannot be walked exactly; give the job a key (`key` COLS) "
          "naming integer, decimal, string, date/time or binary columns"));
    }
    m->key.push_back(c);
  }
  return absl::OkStatus();
}

absl::Status MatchAssignments(const JobSpec& spec, const TableFacts& target,
                              const TableFacts* source, NameRule rule,
                              SchemaMatch* m) {
  for (const Assignment& a : spec.assignments) {
    const ColumnFacts* c = FindColumn(target, a.column, rule);
    if (c == nullptr) return NoColumn(a.column, target);
    if (c->generated) {
      return absl::InvalidArgumentError(absl::StrCat("column \"", a.column,
                                                     "\" of \"", target.display,
                                                     "\" is generated"));
    }
    const ColumnFacts* from = nullptr;
    if (!a.expression.has_value()) {
      if (source == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(
            "column \"", a.column, "\" has no expression and no source"));
      }
      from = FindColumn(*source, a.column, rule);
      if (from == nullptr) return NoColumn(a.column, *source);
    }
    m->assigned.push_back(c);
    m->copied.push_back(from);
  }
  return absl::OkStatus();
}

absl::Status MatchConflictKey(const JobSpec& spec, const TableFacts& target,
                              NameRule rule, SchemaMatch* m) {
  if (target.primary_key.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("table \"", target.display,
                     "\" has no primary key to detect rows already copied"));
  }
  for (const std::string& k : target.primary_key) {
    bool assigned = false;
    for (const Assignment& a : spec.assignments) {
      assigned |= SameName(a.column, k, rule);
    }
    if (!assigned) {
      return absl::InvalidArgumentError(
          absl::StrCat("the copied columns (`columns`) must include \"", k,
                       "\", the primary key of \"", target.display, "\""));
    }
    m->conflict.push_back(k);
  }
  return absl::OkStatus();
}

}  // namespace

const ColumnFacts* FindColumn(const TableFacts& table, absl::string_view name,
                              NameRule rule) {
  for (const ColumnFacts& c : table.columns) {
    if (SameName(c.name, name, rule)) return &c;
  }
  return nullptr;
}

absl::StatusOr<SchemaMatch> CheckSchema(const JobSpec& spec,
                                        const TableFacts& target,
                                        const TableFacts* source,
                                        NameRule rule) {
  const bool copy = spec.shape == Shape::kCopy;
  if (copy && source == nullptr) {
    return absl::InvalidArgumentError("a copy needs a source table");
  }
  const TableFacts& walked = copy ? *source : target;
  SchemaMatch m;
  if (absl::Status s = MatchKey(spec, walked, rule, &m); !s.ok()) return s;
  if (absl::Status s = MatchAssignments(spec, target, source, rule, &m);
      !s.ok()) {
    return s;
  }
  if (copy) {
    if (absl::Status s = MatchConflictKey(spec, target, rule, &m); !s.ok()) {
      return s;
    }
    if (absl::Status s = Require(target.can_insert, "INSERT", target);
        !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = Require(target.can_update, "UPDATE", target); !s.ok()) {
    return s;
  }
  if (source != nullptr) {
    if (absl::Status s = Require(source->can_select, "SELECT", *source);
        !s.ok()) {
      return s;
    }
  }
  return m;
}

}  // namespace backfill
