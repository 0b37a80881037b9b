// The SQLite backend: one writer connection behind a mutex (SQLite allows one writer at a time
// anyway, and BEGIN IMMEDIATE takes the file lock up front so a transaction never fails half-way
// on a lock upgrade) and a bounded pool of read-only connections that run concurrently under WAL.

#include <sqlite3.h>

#include <atomic>
#include <cassert>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "db/internal.hpp"

namespace nimbus::db::internal {
namespace {

/// Prepared statements kept per connection; SQL is written as constants so the set stays small,
/// and the cap only guards against a module that builds SQL text dynamically.
constexpr std::size_t kMaxCachedStatements = 256;

Error sqlite_error(sqlite3* conn, int rc, std::string_view what) {
    std::string message =
        fmt::format("{}: {}", what, conn != nullptr ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
    switch (rc & 0xff) {  // the primary code; extended codes refine it in the upper bits
        case SQLITE_CONSTRAINT: return Error::conflict(std::move(message));
        case SQLITE_BUSY:
        case SQLITE_LOCKED: return Error::unavailable(std::move(message));
        default: return Error::internal(std::move(message));
    }
}

Result<const char*> synchronous_pragma(std::string_view mode) {
    if (mode == "full") return "PRAGMA synchronous = FULL";
    if (mode == "normal") return "PRAGMA synchronous = NORMAL";
    if (mode == "off") return "PRAGMA synchronous = OFF";
    return Error::invalid(
        fmt::format("sqlite synchronous must be full, normal or off, not \"{}\"", mode));
}

bool only_whitespace(const char* text) {
    for (; *text != '\0'; ++text) {
        if (*text != ' ' && *text != '\n' && *text != '\t' && *text != '\r' && *text != ';') {
            return false;
        }
    }
    return true;
}

Result<void> bind(sqlite3_stmt* stmt, sqlite3* conn, std::span<const Param> params) {
    const int expected = sqlite3_bind_parameter_count(stmt);
    if (static_cast<std::size_t>(expected) != params.size()) {
        return Error::internal(fmt::format("statement has {} placeholders but {} parameters",
                                           expected, params.size()));
    }
    for (std::size_t param_idx = 0; param_idx < params.size(); ++param_idx) {
        const int position = static_cast<int>(param_idx) + 1;
        const Value& value = params[param_idx].value();
        int rc = SQLITE_OK;
        if (std::holds_alternative<std::monostate>(value)) {
            rc = sqlite3_bind_null(stmt, position);
        } else if (const auto* as_int = std::get_if<std::int64_t>(&value)) {
            rc = sqlite3_bind_int64(stmt, position, *as_int);
        } else if (const auto* as_double = std::get_if<double>(&value)) {
            rc = sqlite3_bind_double(stmt, position, *as_double);
        } else if (const auto* as_text = std::get_if<std::string>(&value)) {
            rc = sqlite3_bind_text64(stmt, position, as_text->data(), as_text->size(),
                                     SQLITE_TRANSIENT, SQLITE_UTF8);
        } else {
            const auto& bytes = std::get<Bytes>(value);
            // An empty vector may have a null data(), which SQLite would bind as NULL.
            rc = bytes.empty() ? sqlite3_bind_zeroblob(stmt, position, 0)
                               : sqlite3_bind_blob64(stmt, position, bytes.data(), bytes.size(),
                                                     SQLITE_TRANSIENT);
        }
        if (rc != SQLITE_OK) return sqlite_error(conn, rc, "cannot bind parameter");
    }
    return {};
}

Value column_value(sqlite3_stmt* stmt, int column_idx) {
    switch (sqlite3_column_type(stmt, column_idx)) {
        case SQLITE_INTEGER:
            return static_cast<std::int64_t>(sqlite3_column_int64(stmt, column_idx));
        case SQLITE_FLOAT: return sqlite3_column_double(stmt, column_idx);
        case SQLITE_TEXT: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, column_idx));
            return std::string(text,
                               static_cast<std::size_t>(sqlite3_column_bytes(stmt, column_idx)));
        }
        case SQLITE_BLOB: {
            const auto* data =
                static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, column_idx));
            const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, column_idx));
            return data == nullptr ? Bytes() : Bytes(data, data + size);
        }
        default: return std::monostate();
    }
}

/// One sqlite3 handle and its statement cache. Used by one thread at a time (the owner's lock).
class Connection {
public:
    static Result<std::unique_ptr<Connection>> open(const std::string& path, bool read_only,
                                                    const Options& options) {
        const int flags =
            SQLITE_OPEN_NOMUTEX |
            (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
        auto conn = std::unique_ptr<Connection>(new Connection(raw, options.observer));
        if (rc != SQLITE_OK) {
            return Error::unavailable(fmt::format(
                "cannot open SQLite database {}: {} (does its directory exist and is it writable?)",
                path, raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
        }
        sqlite3_extended_result_codes(raw, 1);
        sqlite3_busy_timeout(raw, static_cast<int>(options.busy_timeout.count()));
        auto sync = synchronous_pragma(options.sqlite_synchronous);
        if (!sync) return sync.error();
        for (const char* pragma : {"PRAGMA foreign_keys = ON", *sync}) {
            if (auto done = conn->execute_script(pragma); !done) return done.error();
        }
        return conn;
    }

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    ~Connection() {
        for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
        sqlite3_close_v2(conn_);
    }

    /// Runs one statement; collects rows into `rows` when given. Returns the rows changed.
    Result<std::int64_t> run(std::string_view sql, std::span<const Param> params, Rows* rows) {
        StatementTimer timer(observer_);
        auto stmt = prepare(sql);
        if (!stmt) return stmt.error();
        // Leave the cached statement reusable whatever happens below.
        struct ResetOnExit {
            sqlite3_stmt* stmt;
            ~ResetOnExit() {
                sqlite3_reset(stmt);
                sqlite3_clear_bindings(stmt);
            }
        } reset{*stmt};
        if (auto bound = bind(*stmt, conn_, params); !bound) return bound.error();
        const int column_count = sqlite3_column_count(*stmt);
        int rc = SQLITE_OK;
        while ((rc = sqlite3_step(*stmt)) == SQLITE_ROW) {
            if (rows == nullptr) continue;
            std::vector<Value> columns;
            columns.reserve(static_cast<std::size_t>(column_count));
            for (int column_idx = 0; column_idx < column_count; ++column_idx) {
                columns.push_back(column_value(*stmt, column_idx));
            }
            rows->emplace_back(std::move(columns));
        }
        if (rc != SQLITE_DONE) return sqlite_error(conn_, rc, "statement failed");
        timer.succeeded();
        // sqlite3_changes64 keeps the count of the last INSERT/UPDATE/DELETE, even after a SELECT.
        return sqlite3_stmt_readonly(*stmt) ? std::int64_t{0} : sqlite3_changes64(conn_);
    }

    Result<void> execute_script(std::string_view sql) {
        StatementTimer timer(observer_);
        const std::string text(sql);
        char* message = nullptr;
        const int rc = sqlite3_exec(conn_, text.c_str(), nullptr, nullptr, &message);
        if (rc != SQLITE_OK) {
            std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
            sqlite3_free(message);
            Error error = sqlite_error(nullptr, rc, "script failed");
            error.message = "script failed: " + detail;
            return error;
        }
        timer.succeeded();
        return {};
    }

private:
    Connection(sqlite3* conn, const QueryObserver& observer) : conn_(conn), observer_(observer) {}

    Result<sqlite3_stmt*> prepare(std::string_view sql) {
        auto cached = statements_.find(std::string(sql));
        if (cached != statements_.end()) return cached->second;
        sqlite3_stmt* stmt = nullptr;
        const char* tail = nullptr;
        const int rc = sqlite3_prepare_v3(conn_, sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
        if (rc != SQLITE_OK) return sqlite_error(conn_, rc, "cannot prepare statement");
        if (stmt == nullptr) return Error::internal("empty SQL statement");
        // Several statements in one call would silently run only the first.
        const std::string rest(tail, static_cast<std::size_t>(sql.data() + sql.size() - tail));
        if (!only_whitespace(rest.c_str())) {
            sqlite3_finalize(stmt);
            return Error::internal("one statement per call (use execute_script for scripts)");
        }
        if (statements_.size() >= kMaxCachedStatements) {
            for (auto& [old_sql, old_stmt] : statements_) sqlite3_finalize(old_stmt);
            statements_.clear();
        }
        statements_.emplace(std::string(sql), stmt);
        return stmt;
    }

    sqlite3* conn_;
    const QueryObserver& observer_;
    std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

class SqliteDatabase;

class SqliteTransaction final : public Transaction {
public:
    SqliteTransaction(Connection& writer, std::unique_lock<std::mutex> lock,
                      std::atomic<std::thread::id>& owner)
        : writer_(writer), lock_(std::move(lock)), owner_(owner) {}

    ~SqliteTransaction() override {
        if (!finished_) {
            (void)writer_.run("ROLLBACK", {}, nullptr);
            release_writer();
        }
    }

    Result<std::int64_t> execute(std::string_view sql, std::span<const Param> params) override {
        if (finished_) return Error::internal("transaction already finished");
        return writer_.run(sql, params, nullptr);
    }

    Result<Rows> query(std::string_view sql, std::span<const Param> params) override {
        if (finished_) return Error::internal("transaction already finished");
        Rows rows;
        auto done = writer_.run(sql, params, &rows);
        if (!done) return done.error();
        return rows;
    }

    Result<void> execute_script(std::string_view sql) override {
        if (finished_) return Error::internal("transaction already finished");
        return writer_.execute_script(sql);
    }

    Result<void> commit() override {
        if (finished_) return Error::internal("transaction already finished");
        finished_ = true;
        auto done = writer_.run("COMMIT", {}, nullptr);
        if (!done) {
            // A failed COMMIT (e.g. SQLITE_BUSY) leaves the transaction open.
            (void)writer_.run("ROLLBACK", {}, nullptr);
        }
        // The next writer need not wait for this object to be destroyed.
        release_writer();
        if (!done) return done.error();
        return {};
    }

    Backend backend() const override { return Backend::sqlite; }

    using Session::execute;
    using Session::query;

private:
    void release_writer() {
        owner_ = std::thread::id();
        lock_.unlock();
    }

    Connection& writer_;
    std::unique_lock<std::mutex> lock_;
    std::atomic<std::thread::id>& owner_;
    bool finished_ = false;
};

class SqliteDatabase final : public Database {
public:
    SqliteDatabase(std::string path, Options options)
        : path_(std::move(path)), options_(std::move(options)) {}

    Result<void> open_writer() {
        auto writer = Connection::open(path_, false, options_);
        if (!writer) return writer.error();
        writer_ = std::move(*writer);
        Rows mode;
        auto done = writer_->run("PRAGMA journal_mode = WAL", {}, &mode);
        if (!done) return done.error();
        // WAL is what lets readers run beside the writer; some file systems cannot do it.
        if (mode.empty() || mode.front().get_text(0) != "wal") {
            return Error::unavailable(fmt::format("SQLite cannot use WAL mode for {}", path_));
        }
        return {};
    }

    Backend backend() const override { return Backend::sqlite; }

    Result<std::unique_ptr<Transaction>> begin() override {
        if (writer_owner_.load() == std::this_thread::get_id()) {
            return Error::internal("begin() on a thread that already holds the write transaction");
        }
        std::unique_lock lock(writer_mutex_);
        writer_owner_ = std::this_thread::get_id();
        auto begun = writer_->run("BEGIN IMMEDIATE", {}, nullptr);
        if (!begun) {
            writer_owner_ = std::thread::id();
            return begun.error();
        }
        return std::unique_ptr<Transaction>(
            new SqliteTransaction(*writer_, std::move(lock), writer_owner_));
    }

    Result<Rows> query(std::string_view sql, std::span<const Param> params) override {
        auto reader = acquire_reader();
        if (!reader) return reader.error();
        Rows rows;
        auto done = (*reader)->run(sql, params, &rows);
        release_reader(std::move(*reader));
        if (!done) return done.error();
        return rows;
    }

    using Database::query;

private:
    Result<std::unique_ptr<Connection>> acquire_reader() {
        std::unique_lock lock(readers_mutex_);
        readers_cv_.wait(
            lock, [&] { return !idle_readers_.empty() || open_readers_ < options_.pool_size; });
        if (!idle_readers_.empty()) {
            auto reader = std::move(idle_readers_.back());
            idle_readers_.pop_back();
            return reader;
        }
        ++open_readers_;
        lock.unlock();
        auto reader = Connection::open(path_, true, options_);
        if (!reader) {
            lock.lock();
            --open_readers_;
            readers_cv_.notify_one();
        }
        return reader;
    }

    void release_reader(std::unique_ptr<Connection> reader) {
        {
            std::lock_guard lock(readers_mutex_);
            idle_readers_.push_back(std::move(reader));
        }
        readers_cv_.notify_one();
    }

    std::string path_;
    Options options_;

    std::mutex writer_mutex_;
    std::atomic<std::thread::id> writer_owner_{};
    std::unique_ptr<Connection> writer_;

    std::mutex readers_mutex_;
    std::condition_variable readers_cv_;
    std::vector<std::unique_ptr<Connection>> idle_readers_;
    int open_readers_ = 0;
};

}  // namespace

Result<std::unique_ptr<Database>> open_sqlite(const std::string& path, const Options& options) {
    if (auto sync = synchronous_pragma(options.sqlite_synchronous); !sync) return sync.error();
    auto db = std::make_unique<SqliteDatabase>(path, options);
    if (auto opened = db->open_writer(); !opened) return opened.error();
    return std::unique_ptr<Database>(std::move(db));
}

}  // namespace nimbus::db::internal
