#pragma once
/// A subscriber that writes every event it receives into the table `received`, so that what was
/// delivered survives the process (the crash test reads it after kill -9).

#include "events/events.hpp"

namespace nimbus::events::testing {

/// Creates `received` if missing.
Result<void> create_received_table(db::Database& db);

/// A handler that inserts (subscriber, event id, subject) into `received` in its own transaction.
Handler recording_handler(db::Database& db, std::string subscriber);

/// Applies the events migrations and creates `received`.
Result<void> prepare_schema(db::Database& db, std::int64_t now_ms);

}  // namespace nimbus::events::testing
