#pragma once
/// The relational store: one interface, two backends (SQLite embedded, PostgreSQL scale-out).
///
/// Modules write SQL once with `?` placeholders; the PostgreSQL backend rewrites them to
/// `$1, $2, ...` (outside string literals, quoted identifiers and comments). Values are always
/// bound, never spliced into SQL text. Portable SQL: BIGINT for integers and Unix-ms times, TEXT,
/// DOUBLE PRECISION; BLOB vs BYTEA needs a dialect file. SUM() and AVG() come back as double on
/// PostgreSQL (NUMERIC), and an untyped `?` in a select list needs a CAST there.
///
///     auto rows = db.query("SELECT id, name FROM orgs WHERE id = ?", {org_id});
///     auto tx = db.begin();
///     if (!tx) return tx.error();
///     (*tx)->execute("UPDATE orgs SET name = ? WHERE id = ?", {name, org_id});
///     return (*tx)->commit();
///
/// Thread safety: a Database is shared by all threads. A Transaction belongs to the thread that
/// began it until it commits or is destroyed (which rolls back).
///
/// Errors: `ErrorCode::unavailable` when the server cannot be reached (callers answer 503 and the
/// pool reconnects on the next call), `ErrorCode::conflict` for unique or foreign-key violations,
/// `ErrorCode::internal` for everything else (bad SQL is a bug).

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.hpp"

namespace nimbus::db {

/// The engine behind a Database.
enum class Backend { sqlite, postgres };

/// "sqlite" or "postgres".
const char* to_string(Backend backend);

/// Binary data (BLOB / BYTEA).
using Bytes = std::vector<std::uint8_t>;

/// A bound parameter or a column value. `std::monostate` is SQL NULL.
using Value = std::variant<std::monostate, std::int64_t, double, std::string, Bytes>;

/// Converts common C++ types to a Value; `std::nullopt` becomes NULL.
class Param {
public:
    Param(std::nullopt_t) {}                                         // NOLINT: implicit by design
    Param(std::int64_t v) : value_(v) {}                             // NOLINT
    Param(int v) : value_(static_cast<std::int64_t>(v)) {}           // NOLINT
    Param(bool v) : value_(static_cast<std::int64_t>(v ? 1 : 0)) {}  // NOLINT
    Param(double v) : value_(v) {}                                   // NOLINT
    Param(std::string v) : value_(std::move(v)) {}                   // NOLINT
    Param(std::string_view v) : value_(std::string(v)) {}            // NOLINT
    Param(const char* v) : value_(std::string(v)) {}                 // NOLINT
    Param(Bytes v) : value_(std::move(v)) {}                         // NOLINT
    template <class T>
    Param(const std::optional<T>& v) {  // NOLINT
        if (v) value_ = Param(*v).value();
    }
    const Value& value() const { return value_; }

private:
    Value value_;
};

using Params = std::initializer_list<Param>;

/// One result row. Column access by index; reading a NULL through a non-optional getter, or a
/// column of another type, is a bug and asserts.
class Row {
public:
    explicit Row(std::vector<Value> columns) : columns_(std::move(columns)) {}

    /// The number of columns.
    std::size_t size() const { return columns_.size(); }
    /// True when the column is SQL NULL.
    bool is_null(std::size_t column_idx) const;
    /// An INTEGER / BIGINT / BOOLEAN (0 or 1) column.
    std::int64_t get_int(std::size_t column_idx) const;
    /// A REAL / DOUBLE PRECISION / NUMERIC column; an integer column is converted.
    double get_double(std::size_t column_idx) const;
    /// A TEXT column (on PostgreSQL every type without a better mapping arrives as text).
    const std::string& get_text(std::size_t column_idx) const;
    /// A BLOB / BYTEA column.
    const Bytes& get_blob(std::size_t column_idx) const;
    /// An integer column that may be NULL.
    std::optional<std::int64_t> get_optional_int(std::size_t column_idx) const;
    /// A text column that may be NULL.
    std::optional<std::string> get_optional_text(std::size_t column_idx) const;
    /// The raw value; throws std::out_of_range for a column that does not exist.
    const Value& at(std::size_t column_idx) const { return columns_.at(column_idx); }

private:
    std::vector<Value> columns_;
};

using Rows = std::vector<Row>;

/// Statements over one connection.
///
/// Each call runs exactly one statement (`execute_script` excepted). A failed statement inside a
/// Transaction leaves it unusable on PostgreSQL (the server aborts it), so the only portable thing
/// to do after an error is to drop the Transaction; use `INSERT ... ON CONFLICT` rather than
/// catching `conflict` and carrying on. On PostgreSQL, `?` is a placeholder even where the jsonb
/// operators `?`, `?|`, `?&` were meant: use `jsonb_exists()` and friends instead.
class Session {
public:
    virtual ~Session() = default;

    /// Runs a statement; returns the number of rows it changed.
    virtual Result<std::int64_t> execute(std::string_view sql, std::span<const Param> params) = 0;
    /// Runs a query and returns all rows.
    virtual Result<Rows> query(std::string_view sql, std::span<const Param> params) = 0;
    /// Runs a script of several statements without parameters (migrations).
    virtual Result<void> execute_script(std::string_view sql) = 0;

    Result<std::int64_t> execute(std::string_view sql, Params params = {}) {
        return execute(sql, std::span<const Param>(params.begin(), params.size()));
    }
    Result<Rows> query(std::string_view sql, Params params = {}) {
        return query(sql, std::span<const Param>(params.begin(), params.size()));
    }
    /// The first row, or nullopt when there is none.
    Result<std::optional<Row>> query_one(std::string_view sql, Params params = {});
};

/// A write transaction. Destroying it without commit() rolls back. Statements after commit() fail
/// with `internal` (a bug).
class Transaction : public Session {
public:
    /// Commits; on failure the transaction is rolled back and the error returned.
    virtual Result<void> commit() = 0;
    virtual Backend backend() const = 0;
};

/// Receives the duration of every statement, for metrics. Must be thread safe and cheap.
using QueryObserver = std::function<void(std::chrono::nanoseconds elapsed, bool ok)>;

/// How to open the store.
struct Options {
    /// "" or "sqlite:PATH" for SQLite at `sqlite_path`; "postgres://..." or "postgresql://..." for
    /// PostgreSQL.
    std::string url;
    /// The SQLite database file (used when `url` does not name PostgreSQL).
    std::string sqlite_path;
    /// SQLite `PRAGMA synchronous`: "full" (default: an acknowledged commit survives power loss),
    /// "normal" (survives a process crash), or "off".
    std::string sqlite_synchronous = "full";
    /// How long a statement waits for a lock before failing (SQLite busy timeout).
    std::chrono::milliseconds busy_timeout{5000};
    /// Read connections (SQLite) or connections in total (PostgreSQL).
    int pool_size = 8;
    /// At start: how many times to retry an unreachable PostgreSQL, and how long to wait between.
    int connect_retries = 0;
    std::chrono::milliseconds connect_retry_interval{1000};
    QueryObserver observer;
};

/// The store. Create with open().
class Database {
public:
    virtual ~Database() = default;

    virtual Backend backend() const = 0;
    /// Begins a write transaction (SQLite: BEGIN IMMEDIATE on the single writer connection, so a
    /// second begin() blocks until the first transaction ends; calling begin() again on the thread
    /// that holds it would wait forever and fails with `internal` instead).
    virtual Result<std::unique_ptr<Transaction>> begin() = 0;
    /// Runs a read-only query on a pooled connection (SQLite: a read-only connection that sees the
    /// last committed state, never the caller's open transaction).
    virtual Result<Rows> query(std::string_view sql, std::span<const Param> params) = 0;
    /// Checks that the server answers (SELECT 1).
    Result<void> ping();

    Result<Rows> query(std::string_view sql, Params params = {}) {
        return query(sql, std::span<const Param>(params.begin(), params.size()));
    }

    /// Runs `work(tx)` in a transaction and commits when it returns success; rolls back otherwise.
    Result<void> transact(const std::function<Result<void>(Transaction&)>& work);
};

/// Group commit: write transactions of concurrent callers coalesced into one database commit.
///
/// `submit()` queues `work`; one committer thread takes everything queued, runs each member's work
/// in its own SAVEPOINT of one shared transaction and commits once, so an SQLite commit (one WAL
/// fsync with `synchronous = full`) is paid once per batch instead of once per caller. Each
/// caller's `done` is called only after the shared commit succeeded (or with the error that kept
/// its work from being committed): an acknowledged member is exactly as durable as one committed
/// alone.
///
/// - A member whose work fails (or throws) is rolled back to its savepoint and gets that error;
///   the other members of the batch are unaffected.
/// - If the shared transaction itself breaks (a savepoint cannot be released or rolled back, e.g.
///   SQLite rolled the whole transaction back after an I/O error) the members that had already
///   run in it get `unavailable` and nothing of theirs is committed; the rest of the batch runs in
///   a fresh transaction. If the COMMIT fails, every member of the batch gets its error.
/// - Members run one after another, in submission order, each seeing the earlier members' writes:
///   the same outcome as running them serially. Work must be short (it holds the writer for the
///   whole batch), must not call `Database::begin()` or `transact()` (the committer holds the
///   write transaction), and may run on the committer thread, not the caller's.
/// - `done` runs on the committer thread: it must be quick and must not call `transact()` on this
///   GroupCommit (post the rest of the work elsewhere, e.g. back to an I/O thread).
///
/// Works on both backends (PostgreSQL has SAVEPOINT too; there every member costs two extra
/// round trips and batches share one pooled connection). Thread safe. The destructor runs what
/// was submitted before it, then joins the committer thread; destroy it before the Database.
///
///     db::GroupCommit group(database);
///     group.submit([&](db::Transaction& tx) { return mark_used(tx, token_hash); },
///                  [](Result<void> committed) { /* durable, or why not */ });
class GroupCommit {
public:
    using Work = std::function<Result<void>(Transaction&)>;
    using Done = std::function<void(Result<void>)>;

    /// At most `max_batch` members share one commit (bounds the wait of the first member).
    explicit GroupCommit(Database& database, std::size_t max_batch = 256);
    GroupCommit(const GroupCommit&) = delete;
    GroupCommit& operator=(const GroupCommit&) = delete;
    ~GroupCommit();

    /// Queues `work`; `done` gets the outcome once it is committed or refused. After the
    /// destructor began, `done` is called at once with `unavailable`.
    void submit(Work work, Done done);

    /// Submits and waits: Database::transact through the group. Fails with `internal` when called
    /// from the committer thread (it would wait for itself).
    Result<void> transact(const Work& work);

    /// Commits made so far and members committed by them (for metrics and tests).
    struct Stats {
        std::uint64_t commits = 0;
        std::uint64_t members = 0;
    };
    Stats stats() const;

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// Opens (and for SQLite creates) the store described by `options`. The directory of an SQLite
/// file must exist. Fails with `invalid_argument` for bad options and `unavailable` when the file
/// cannot be opened or PostgreSQL cannot be reached after `connect_retries` (the message names the
/// host and port, never the password).
Result<std::unique_ptr<Database>> open(const Options& options);

/// One schema change of a module, from `src/<module>/migrations/NNN_name.sql`.
struct Migration {
    int version;
    std::string_view name;
    std::string_view sqlite_sql;
    std::string_view postgres_sql;
};

/// The migrations of one module, in version order.
struct ModuleMigrations {
    std::string_view module;
    const std::vector<Migration>* migrations;
};

/// One migration as known to the code and the database.
struct MigrationStatus {
    std::string module;
    int version = 0;
    std::string name;
    std::string checksum;                       ///< SHA-256 hex of the SQL for this backend
    std::optional<std::int64_t> applied_at_ms;  ///< nullopt when pending
};

/// Lists every known migration and whether it is applied. Fails with `conflict` naming the module
/// and version when an applied migration's checksum differs from the code's.
Result<std::vector<MigrationStatus>> migration_status(Database& db,
                                                      std::span<const ModuleMigrations> modules);

/// Applies all pending migrations, each in its own transaction together with its record in
/// `schema_migrations`, and returns the ones this call applied (empty when nothing was pending).
/// Refuses (conflict) when an applied migration was changed or when the database holds a migration
/// of one of `modules` that the code does not know (a newer binary ran against it). On PostgreSQL
/// an advisory lock serializes nodes that start together. Migration SQL must not contain
/// BEGIN/COMMIT: a failing migration is rolled back as a whole and not recorded.
Result<std::vector<MigrationStatus>> migrate_up(Database& db,
                                                std::span<const ModuleMigrations> modules,
                                                std::int64_t now_ms);

/// The applied migrations as recorded in the database, ordered by module and version.
Result<std::vector<MigrationStatus>> applied_migrations(Database& db);

}  // namespace nimbus::db
