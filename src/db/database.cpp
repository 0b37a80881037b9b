#include <string_view>

#include "db/db.hpp"
#include "db/internal.hpp"

namespace nimbus::db {
namespace {

constexpr std::string_view kSqliteScheme = "sqlite:";
constexpr std::string_view kPostgresSchemes[] = {"postgres://", "postgresql://"};

}  // namespace

const char* to_string(Backend backend) {
    switch (backend) {
        case Backend::sqlite: return "sqlite";
        case Backend::postgres: return "postgres";
    }
    return "sqlite";
}

Result<std::optional<Row>> Session::query_one(std::string_view sql, Params params) {
    auto rows = query(sql, params);
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<Row>();
    return std::optional<Row>(std::move(rows->front()));
}

Result<void> Database::transact(const std::function<Result<void>(Transaction&)>& work) {
    auto tx = begin();
    if (!tx) return tx.error();
    auto outcome = work(**tx);
    if (!outcome) return outcome;  // the Transaction's destructor rolls back
    return (*tx)->commit();
}

Result<std::unique_ptr<Database>> open(const Options& options) {
    if (options.pool_size < 1) {
        return Error::invalid("database pool_size must be at least 1");
    }
    if (options.connect_retries < 0) {
        return Error::invalid("database connect_retries must not be negative");
    }
    std::string_view url = options.url;
    for (std::string_view scheme : kPostgresSchemes) {
        if (url.starts_with(scheme)) return internal::open_postgres(options);
    }
    if (url.empty()) {
        if (options.sqlite_path.empty()) {
            return Error::invalid("no database: set a postgres:// url or an SQLite path");
        }
        return internal::open_sqlite(options.sqlite_path, options);
    }
    if (url.starts_with(kSqliteScheme) && url.size() > kSqliteScheme.size()) {
        return internal::open_sqlite(std::string(url.substr(kSqliteScheme.size())), options);
    }
    // Not echoing the url: it may carry a password.
    return Error::invalid("database url must start with postgres://, postgresql:// or sqlite:");
}

Result<void> Database::ping() {
    auto rows = query("SELECT 1");
    if (!rows) return rows.error();
    return {};
}

}  // namespace nimbus::db
