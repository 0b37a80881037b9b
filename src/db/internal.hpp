#pragma once
/// Private to src/db: the backend factories and helpers shared by the backends.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "db/db.hpp"

namespace nimbus::db::internal {

/// Opens the SQLite backend on `path`.
Result<std::unique_ptr<Database>> open_sqlite(const std::string& path, const Options& options);

/// Opens the PostgreSQL backend on `options.url`.
Result<std::unique_ptr<Database>> open_postgres(const Options& options);

/// SQL with `?` placeholders rewritten to PostgreSQL's `$1, $2, ...`.
struct RewrittenSql {
    std::string sql;
    std::size_t placeholder_count = 0;
};

/// Rewrites every `?` outside single-quoted strings (including E'' escape strings), double-quoted
/// identifiers, dollar-quoted strings and comments to `$n`, numbering from 1.
RewrittenSql rewrite_placeholders(std::string_view sql);

/// Measures one statement and reports it to the observer (if any) when it goes out of scope.
class StatementTimer {
public:
    explicit StatementTimer(const QueryObserver& observer)
        : observer_(observer), started_(std::chrono::steady_clock::now()) {}
    StatementTimer(const StatementTimer&) = delete;
    StatementTimer& operator=(const StatementTimer&) = delete;
    ~StatementTimer() {
        if (observer_) observer_(std::chrono::steady_clock::now() - started_, ok_);
    }
    /// Marks the statement as successful.
    void succeeded() { ok_ = true; }

private:
    const QueryObserver& observer_;
    std::chrono::steady_clock::time_point started_;
    bool ok_ = false;
};

}  // namespace nimbus::db::internal
