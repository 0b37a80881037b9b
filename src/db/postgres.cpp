// The PostgreSQL backend over libpq: a bounded pool of connections, `?` rewritten to `$n`, values
// sent as text (bytes in binary so they round-trip exactly), results converted by column type.
// A connection that breaks is dropped from the pool, so when the server goes away calls fail with
// `unavailable` and the next call after it returns opens a fresh connection.

#include <libpq-fe.h>

#include <charconv>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "db/internal.hpp"

namespace nimbus::db::internal {
namespace {

// Type OIDs from pg_type.dat; stable across PostgreSQL versions.
constexpr Oid kBoolOid = 16;
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt4Oid = 23;
constexpr Oid kFloat4Oid = 700;
constexpr Oid kFloat8Oid = 701;
constexpr Oid kNumericOid = 1700;

constexpr int kTextFormat = 0;
constexpr int kBinaryFormat = 1;
constexpr const char* kConnectTimeoutSeconds = "10";
constexpr const char* kDefaultPort = "5432";
constexpr const char* kDefaultHost = "localhost";

bool is_identifier_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/// Collapses libpq's multi-line messages into one line for logs.
std::string one_line(std::string_view text) {
    std::string out;
    for (char c : text) {
        const bool space = c == '\n' || c == '\t' || c == '\r';
        if (space && (out.empty() || out.back() == ' ')) continue;
        out.push_back(space ? ' ' : c);
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
}

void ignore_notice(void*, const char*) {
    // NOTICEs such as "relation already exists, skipping" are expected and not worth stderr.
}

/// What the error messages may say about the server: host, port and database, never the password.
struct ServerName {
    std::string host_port;
    std::string password;  // only to scrub it from libpq's messages

    std::string scrub(std::string message) const {
        if (password.empty()) return message;
        for (auto pos = message.find(password); pos != std::string::npos;
             pos = message.find(password, pos)) {
            message.replace(pos, password.size(), "***");
        }
        return message;
    }
};

Result<ServerName> parse_server_name(const std::string& url) {
    char* parse_error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &parse_error);
    if (options == nullptr) {
        PQfreemem(parse_error);
        // libpq's message may quote the part of the URL holding the password.
        return Error::invalid("database url is not a valid PostgreSQL URL");
    }
    std::string host = kDefaultHost;
    std::string port = kDefaultPort;
    std::string dbname;
    ServerName name;
    for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
        if (option->val == nullptr || *option->val == '\0') continue;
        const std::string_view keyword = option->keyword;
        if (keyword == "host") host = option->val;
        if (keyword == "port") port = option->val;
        if (keyword == "dbname") dbname = option->val;
        if (keyword == "password") name.password = option->val;
    }
    PQconninfoFree(options);
    name.host_port = fmt::format("{}:{}{}{}", host, port, dbname.empty() ? "" : "/", dbname);
    return name;
}

using ConnectionPtr = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

Result<ConnectionPtr> connect(const std::string& url, const ServerName& server) {
    // `dbname` comes last so that settings in the URL override the defaults before it.
    const char* keywords[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
                              nullptr};
    const char* values[] = {kConnectTimeoutSeconds, "nimbus", "UTF8", url.c_str(), nullptr};
    ConnectionPtr conn(PQconnectdbParams(keywords, values, 1), &PQfinish);
    if (!conn) return Error::unavailable("cannot allocate a PostgreSQL connection");
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        return Error::unavailable(
            server.scrub(fmt::format("cannot connect to PostgreSQL at {}: {}", server.host_port,
                                     one_line(PQerrorMessage(conn.get())))));
    }
    PQsetNoticeProcessor(conn.get(), &ignore_notice, nullptr);
    return conn;
}

bool is_connection_error(std::string_view sqlstate) {
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect now;
    // 53300: too many connections.
    return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
           sqlstate == "57P03" || sqlstate == "53300";
}

Error result_error(PGconn* conn, const PGresult* result) {
    const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
    const char* primary =
        result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
    const std::string_view sqlstate = state != nullptr ? state : "";
    const std::string message = one_line(primary != nullptr ? primary : PQerrorMessage(conn));
    if (PQstatus(conn) != CONNECTION_OK || is_connection_error(sqlstate)) {
        return Error::unavailable("PostgreSQL connection lost: " + message);
    }
    if (sqlstate.starts_with("23")) return Error::conflict(message);
    // Serialization failures and deadlocks succeed when retried.
    if (sqlstate == "40001" || sqlstate == "40P01") return Error::unavailable(message);
    return Error::internal(fmt::format("{} (SQLSTATE {})", message, sqlstate));
}

Result<Value> convert(const PGresult* result, int row_idx, int column_idx) {
    if (PQgetisnull(result, row_idx, column_idx)) return Value(std::monostate());
    const char* text = PQgetvalue(result, row_idx, column_idx);
    const auto length = static_cast<std::size_t>(PQgetlength(result, row_idx, column_idx));
    switch (PQftype(result, column_idx)) {
        case kInt2Oid:
        case kInt4Oid:
        case kInt8Oid: {
            std::int64_t number = 0;
            auto [end, ec] = std::from_chars(text, text + length, number);
            if (ec != std::errc() || end != text + length) {
                return Error::internal(fmt::format("bad integer from PostgreSQL: {}", text));
            }
            return Value(number);
        }
        case kFloat4Oid:
        case kFloat8Oid:
        case kNumericOid: return Value(std::strtod(text, nullptr));  // also parses NaN, Infinity
        case kBoolOid: return Value(std::int64_t{text[0] == 't' ? 1 : 0});
        case kByteaOid: {
            std::size_t size = 0;
            unsigned char* raw =
                PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &size);
            if (raw == nullptr) return Error::internal("cannot decode bytea from PostgreSQL");
            Bytes bytes(raw, raw + size);
            PQfreemem(raw);
            return Value(std::move(bytes));
        }
        default: return Value(std::string(text, length));
    }
}

/// Runs one statement on `conn`. Fills `rows` when given; returns the rows changed.
Result<std::int64_t> run(PGconn* conn, const QueryObserver& observer, std::string_view sql,
                         std::span<const Param> params, Rows* rows) {
    StatementTimer timer(observer);
    RewrittenSql rewritten = rewrite_placeholders(sql);
    if (rewritten.placeholder_count != params.size()) {
        return Error::internal(fmt::format("statement has {} placeholders but {} parameters",
                                           rewritten.placeholder_count, params.size()));
    }
    const std::size_t count = params.size();
    std::vector<std::string> texts(count);
    std::vector<const char*> values(count, nullptr);
    std::vector<int> lengths(count, 0);
    std::vector<int> formats(count, kTextFormat);
    // 0 lets the server infer each type from context, as it would for a literal; bytea is named so
    // that binary bytes are never read as text.
    std::vector<Oid> types(count, 0);
    for (std::size_t param_idx = 0; param_idx < count; ++param_idx) {
        const Value& value = params[param_idx].value();
        if (std::holds_alternative<std::monostate>(value)) continue;
        if (const auto* as_int = std::get_if<std::int64_t>(&value)) {
            texts[param_idx] = std::to_string(*as_int);
        } else if (const auto* as_double = std::get_if<double>(&value)) {
            texts[param_idx] = fmt::format("{}", *as_double);  // shortest exact representation
        } else if (const auto* as_text = std::get_if<std::string>(&value)) {
            values[param_idx] = as_text->c_str();
            lengths[param_idx] = static_cast<int>(as_text->size());
            continue;
        } else {
            const auto& bytes = std::get<Bytes>(value);
            static const char kEmpty = '\0';
            values[param_idx] =
                bytes.empty() ? &kEmpty : reinterpret_cast<const char*>(bytes.data());
            lengths[param_idx] = static_cast<int>(bytes.size());
            formats[param_idx] = kBinaryFormat;
            types[param_idx] = kByteaOid;
            continue;
        }
        values[param_idx] = texts[param_idx].c_str();
        lengths[param_idx] = static_cast<int>(texts[param_idx].size());
    }
    ResultPtr result(
        PQexecParams(conn, rewritten.sql.c_str(), static_cast<int>(count), types.data(),
                     values.data(), lengths.data(), formats.data(), kTextFormat),
        &PQclear);
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        return result_error(conn, result.get());
    }
    if (rows != nullptr && status == PGRES_TUPLES_OK) {
        const int row_count = PQntuples(result.get());
        const int column_count = PQnfields(result.get());
        rows->reserve(static_cast<std::size_t>(row_count));
        for (int row_idx = 0; row_idx < row_count; ++row_idx) {
            std::vector<Value> columns;
            columns.reserve(static_cast<std::size_t>(column_count));
            for (int column_idx = 0; column_idx < column_count; ++column_idx) {
                auto value = convert(result.get(), row_idx, column_idx);
                if (!value) return value.error();
                columns.push_back(std::move(*value));
            }
            rows->emplace_back(std::move(columns));
        }
    }
    timer.succeeded();
    const char* changed = PQcmdTuples(result.get());
    return changed[0] == '\0' ? std::int64_t{0} : std::strtoll(changed, nullptr, 10);
}

Result<void> run_script(PGconn* conn, const QueryObserver& observer, std::string_view sql) {
    StatementTimer timer(observer);
    ResultPtr result(PQexec(conn, std::string(sql).c_str()), &PQclear);
    const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
        Error error = result_error(conn, result.get());
        error.message = "script failed: " + error.message;
        return error;
    }
    timer.succeeded();
    return {};
}

class PostgresDatabase;

/// A connection borrowed from the pool; goes back (or, when broken, away) on destruction.
class Lease {
public:
    Lease(PostgresDatabase& pool, ConnectionPtr conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PGconn* get() const { return conn_.get(); }

private:
    PostgresDatabase* pool_;
    ConnectionPtr conn_;
};

class PostgresTransaction final : public Transaction {
public:
    PostgresTransaction(Lease lease, const QueryObserver& observer)
        : lease_(std::move(lease)), observer_(observer) {}

    ~PostgresTransaction() override {
        // A broken connection has no transaction left to roll back; the lease drops it.
        if (lease_ && PQstatus(lease_->get()) == CONNECTION_OK) {
            (void)run(lease_->get(), observer_, "ROLLBACK", {}, nullptr);
        }
    }

    Result<std::int64_t> execute(std::string_view sql, std::span<const Param> params) override {
        if (!lease_) return Error::internal("transaction already finished");
        return run(lease_->get(), observer_, sql, params, nullptr);
    }

    Result<Rows> query(std::string_view sql, std::span<const Param> params) override {
        if (!lease_) return Error::internal("transaction already finished");
        Rows rows;
        auto done = run(lease_->get(), observer_, sql, params, &rows);
        if (!done) return done.error();
        return rows;
    }

    Result<void> execute_script(std::string_view sql) override {
        if (!lease_) return Error::internal("transaction already finished");
        return run_script(lease_->get(), observer_, sql);
    }

    Result<void> commit() override {
        if (!lease_) return Error::internal("transaction already finished");
        // COMMIT of an aborted transaction "succeeds" as ROLLBACK; report it as the failure it is.
        const bool aborted = PQtransactionStatus(lease_->get()) == PQTRANS_INERROR;
        auto done = run(lease_->get(), observer_, "COMMIT", {}, nullptr);
        lease_.reset();  // back to the pool now, not when this object is destroyed
        if (!done) return done.error();
        if (aborted) return Error::internal("commit of a transaction that had a failed statement");
        return {};
    }

    Backend backend() const override { return Backend::postgres; }

    using Session::execute;
    using Session::query;

private:
    std::optional<Lease> lease_;  ///< empty once committed
    const QueryObserver& observer_;
};

class PostgresDatabase final : public Database {
public:
    PostgresDatabase(Options options, ServerName server)
        : options_(std::move(options)), server_(std::move(server)) {}

    /// Opens the first connection, retrying as configured, so that a wrong URL fails the start.
    Result<void> connect_first() {
        for (int attempt = 0;; ++attempt) {
            auto conn = connect(options_.url, server_);
            if (conn) {
                std::lock_guard lock(mutex_);
                ++open_count_;
                idle_.push_back(std::move(*conn));
                return {};
            }
            if (attempt >= options_.connect_retries) return conn.error();
            std::this_thread::sleep_for(options_.connect_retry_interval);
        }
    }

    Backend backend() const override { return Backend::postgres; }

    Result<std::unique_ptr<Transaction>> begin() override {
        auto lease = acquire();
        if (!lease) return lease.error();
        auto begun = run(lease->get(), options_.observer, "BEGIN", {}, nullptr);
        if (!begun) return begun.error();
        return std::unique_ptr<Transaction>(
            new PostgresTransaction(std::move(*lease), options_.observer));
    }

    Result<Rows> query(std::string_view sql, std::span<const Param> params) override {
        auto lease = acquire();
        if (!lease) return lease.error();
        Rows rows;
        auto done = run(lease->get(), options_.observer, sql, params, &rows);
        if (!done) return done.error();
        return rows;
    }

    using Database::query;

    /// Takes back a connection; keeps it only when it is healthy and outside any transaction.
    void release(ConnectionPtr conn) {
        const bool healthy = PQstatus(conn.get()) == CONNECTION_OK &&
                             PQtransactionStatus(conn.get()) == PQTRANS_IDLE;
        {
            std::lock_guard lock(mutex_);
            if (healthy) {
                idle_.push_back(std::move(conn));
            } else {
                --open_count_;
            }
        }
        cv_.notify_one();
        // A dropped connection is closed here, outside the lock (PQfinish may block briefly).
    }

private:
    Result<Lease> acquire() {
        std::unique_lock lock(mutex_);
        // Waiting longer than the busy timeout means the pool is exhausted by long transactions
        // (or a thread waits for itself); fail instead of hanging the caller.
        const bool available = cv_.wait_for(lock, options_.busy_timeout, [&] {
            return !idle_.empty() || open_count_ < options_.pool_size;
        });
        if (!available) {
            return Error::unavailable(
                fmt::format("all {} PostgreSQL connections are busy", options_.pool_size));
        }
        if (!idle_.empty()) {
            ConnectionPtr conn = std::move(idle_.back());
            idle_.pop_back();
            return Lease(*this, std::move(conn));
        }
        ++open_count_;
        lock.unlock();
        auto conn = connect(options_.url, server_);
        if (!conn) {
            lock.lock();
            --open_count_;
            cv_.notify_one();
            return conn.error();
        }
        return Lease(*this, std::move(*conn));
    }

    Options options_;
    ServerName server_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<ConnectionPtr> idle_;
    int open_count_ = 0;
};

Lease::~Lease() {
    if (conn_) pool_->release(std::move(conn_));
}

}  // namespace

RewrittenSql rewrite_placeholders(std::string_view sql) {
    RewrittenSql out;
    out.sql.reserve(sql.size() + sql.size() / 4);
    std::size_t pos = 0;
    const auto copy_until = [&](std::size_t end) {
        end = std::min(end, sql.size());
        out.sql.append(sql.substr(pos, end - pos));
        pos = end;
    };
    while (pos < sql.size()) {
        const char c = sql[pos];
        const char next = pos + 1 < sql.size() ? sql[pos + 1] : '\0';
        const char prev = pos > 0 ? sql[pos - 1] : '\0';
        if (c == '?') {
            out.sql.append(fmt::format("${}", ++out.placeholder_count));
            ++pos;
        } else if (c == '\'') {
            // E'...' strings treat backslash as an escape; standard strings only double quotes.
            const bool escapes =
                (prev == 'E' || prev == 'e') && (pos < 2 || !is_identifier_char(sql[pos - 2]));
            std::size_t end = pos + 1;
            while (end < sql.size()) {
                if (escapes && sql[end] == '\\') {
                    end += 2;
                } else if (sql[end] == '\'') {
                    if (end + 1 < sql.size() && sql[end + 1] == '\'') {
                        end += 2;
                    } else {
                        break;
                    }
                } else {
                    ++end;
                }
            }
            copy_until(end + 1);
        } else if (c == '"') {
            std::size_t end = pos + 1;
            while (end < sql.size()) {
                if (sql[end] == '"' && end + 1 < sql.size() && sql[end + 1] == '"') {
                    end += 2;
                } else if (sql[end] == '"') {
                    break;
                } else {
                    ++end;
                }
            }
            copy_until(end + 1);
        } else if (c == '-' && next == '-') {
            copy_until(sql.find('\n', pos));
        } else if (c == '/' && next == '*') {
            // PostgreSQL block comments nest.
            int depth = 0;
            std::size_t end = pos;
            while (end < sql.size()) {
                if (sql.substr(end, 2) == "/*") {
                    ++depth;
                    end += 2;
                } else if (sql.substr(end, 2) == "*/") {
                    end += 2;
                    if (--depth == 0) break;
                } else {
                    ++end;
                }
            }
            copy_until(end);
        } else if (c == '$' && !is_identifier_char(prev)) {
            // A dollar quote: $$...$$ or $tag$...$tag$ (a tag does not start with a digit, which
            // keeps $1 an ordinary positional parameter).
            std::size_t tag_end = pos + 1;
            while (tag_end < sql.size() && is_identifier_char(sql[tag_end]) &&
                   !(tag_end == pos + 1 && sql[tag_end] >= '0' && sql[tag_end] <= '9')) {
                ++tag_end;
            }
            if (tag_end < sql.size() && sql[tag_end] == '$') {
                const std::string_view tag = sql.substr(pos, tag_end - pos + 1);
                const std::size_t close = sql.find(tag, tag_end + 1);
                copy_until(close == std::string_view::npos ? sql.size() : close + tag.size());
            } else {
                copy_until(pos + 1);
            }
        } else {
            copy_until(pos + 1);
        }
    }
    return out;
}

Result<std::unique_ptr<Database>> open_postgres(const Options& options) {
    auto server = parse_server_name(options.url);
    if (!server) return server.error();
    auto db = std::make_unique<PostgresDatabase>(options, std::move(*server));
    if (auto connected = db->connect_first(); !connected) return connected.error();
    return std::unique_ptr<Database>(std::move(db));
}

}  // namespace nimbus::db::internal
