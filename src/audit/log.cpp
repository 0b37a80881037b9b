// The audit store: append under the chain head's lock, list with filters and a seq cursor, verify
// by recomputing the chain. docs/audit.md describes the encoding the hash is taken over.
#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include <fmt/format.h>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "audit/audit.hpp"
#include "core/crypto.hpp"
#include "core/cursor.hpp"
#include "core/json.hpp"

namespace nimbus::audit {
namespace {

/// Names the encoding, so a future change of fields cannot be confused with this one.
constexpr std::string_view kHashDomain = "nimbus.audit.v1";
/// The list kind in cursors (core/cursor.hpp): base64url of "a1.<seq>".
constexpr std::string_view kCursorKind = "a1";
constexpr std::size_t kMaxActionPrefixBytes = 200;
constexpr std::int64_t kVerifyPageRows = 1000;
constexpr int kLengthBytes = 8;
constexpr int kBitsPerByte = 8;
constexpr unsigned char kAbsent = 0x00;
constexpr unsigned char kPresent = 0x01;

constexpr std::string_view kColumns =
    "seq, event_id, time_ms, action, actor_id, org_id, target_id, ip, details, prev_hash, hash";

/// Payload keys lifted into columns; they are not repeated in details.
constexpr std::string_view kColumnKeys[] = {"actor_id", "org_id", "target_id", "ip"};

/// Appends one field: a presence byte, then the length (8 bytes, big-endian) and the bytes.
void put_field(std::string& out, const std::optional<std::string_view>& field) {
    if (!field) {
        out.push_back(static_cast<char>(kAbsent));
        return;
    }
    out.push_back(static_cast<char>(kPresent));
    auto length = static_cast<std::uint64_t>(field->size());
    for (int shift = (kLengthBytes - 1) * kBitsPerByte; shift >= 0; shift -= kBitsPerByte) {
        out.push_back(static_cast<char>((length >> shift) & 0xFFU));
    }
    out.append(*field);
}

std::optional<std::string_view> view(const std::optional<std::string>& text) {
    if (!text) return std::nullopt;
    return std::string_view(*text);
}

/// Keys whose values must never reach the log, whatever an emitter put in its payload: the
/// event convention already forbids secrets, this is the second line.
bool secret_key(std::string_view key) {
    if (key.ends_with("_id")) return false;  // "token_id" names a token, it is not one
    constexpr std::string_view kMarkers[] = {"password", "secret", "token", "otp"};
    for (std::string_view marker : kMarkers) {
        if (key.find(marker) != std::string_view::npos) return true;
    }
    return key.ends_with("hash") || key == "code" ||
           (key.ends_with("_code") && key != "country_code");
}

std::optional<std::string> non_empty_string(const boost::json::object& data, std::string_view key) {
    const auto* value = data.if_contains(key);
    if (value == nullptr || !value->is_string() || value->as_string().empty()) return std::nullopt;
    return std::string(value->as_string());
}

Entry entry_of(const db::Row& row) {
    Entry entry;
    entry.seq = row.get_int(0);
    entry.id = row.get_text(1);
    entry.time_ms = row.get_int(2);
    entry.action = row.get_text(3);
    entry.actor_id = row.get_optional_text(4);
    entry.org_id = row.get_optional_text(5);
    entry.target_id = row.get_optional_text(6);
    entry.ip = row.get_optional_text(7);
    entry.details_json = row.get_text(8);
    entry.prev_hash = row.get_text(9);
    entry.hash = row.get_text(10);
    return entry;
}

bool valid_action_prefix(std::string_view prefix) {
    if (prefix.empty() || prefix.size() > kMaxActionPrefixBytes) return false;
    for (char c : prefix) {
        bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

/// Parses exactly `digits` decimal digits at `pos`.
std::optional<int> digits_at(std::string_view text, std::size_t pos, std::size_t digits) {
    if (pos + digits > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = pos; i < pos + digits; ++i) {
        if (text[i] < '0' || text[i] > '9') return std::nullopt;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
    year -= month <= 2 ? 1 : 0;
    const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
    const auto year_of_era = static_cast<unsigned>(year - era * 400);
    const unsigned day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    const unsigned day_of_era =
        year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

bool leap_year(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int days_in_month(int year, int month) {
    constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && leap_year(year)) return kDays[1] + 1;
    return kDays[static_cast<std::size_t>(month - 1)];
}

}  // namespace

bool is_audited(std::string_view event_type) {
    for (std::string_view prefix : kAuditedPrefixes) {
        if (event_type.starts_with(prefix)) return true;
    }
    return false;
}

std::string entry_hash(const Entry& entry) {
    std::string encoded;
    encoded.reserve(256 + entry.details_json.size());
    std::string seq = std::to_string(entry.seq);
    std::string time = std::to_string(entry.time_ms);
    put_field(encoded, kHashDomain);
    put_field(encoded, std::string_view(seq));
    put_field(encoded, std::string_view(entry.id));
    put_field(encoded, std::string_view(time));
    put_field(encoded, std::string_view(entry.action));
    put_field(encoded, view(entry.actor_id));
    put_field(encoded, view(entry.org_id));
    put_field(encoded, view(entry.target_id));
    put_field(encoded, view(entry.ip));
    put_field(encoded, std::string_view(entry.details_json));
    put_field(encoded, std::string_view(entry.prev_hash));
    return crypto::sha256_hex(encoded);
}

std::string encode_cursor(std::int64_t seq) {
    return cursor::encode(kCursorKind, std::to_string(seq));
}

Result<std::int64_t> decode_cursor(std::string_view text) {
    Error bad = Error::invalid("cursor: is not a cursor this server issued");
    constexpr std::size_t kMaxCursorBytes = 64;
    if (text.size() > kMaxCursorBytes) return bad;
    auto position = cursor::decode(kCursorKind, text);
    if (!position) return position.error();
    std::string_view digits = *position;
    if (digits.front() == '0') return bad;
    std::int64_t seq = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
    if (ec != std::errc() || end != digits.data() + digits.size() || seq <= 0) return bad;
    return seq;
}

Result<std::int64_t> parse_rfc3339(std::string_view text) {
    Error bad = Error::invalid("is not an RFC 3339 date-time (2026-11-24T17:00:00Z)");
    constexpr std::size_t kMaxBytes = 40;
    if (text.size() < 20 || text.size() > kMaxBytes) return bad;
    auto year = digits_at(text, 0, 4);
    auto month = digits_at(text, 5, 2);
    auto day = digits_at(text, 8, 2);
    auto hour = digits_at(text, 11, 2);
    auto minute = digits_at(text, 14, 2);
    auto second = digits_at(text, 17, 2);
    if (!year || !month || !day || !hour || !minute || !second) return bad;
    if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
        text[13] != ':' || text[16] != ':') {
        return bad;
    }
    if (*month < 1 || *month > 12 || *day < 1 || *day > days_in_month(*year, *month) ||
        *hour > 23 || *minute > 59 || *second > 59) {
        return bad;
    }
    std::size_t pos = 19;
    std::int64_t millis = 0;
    if (text[pos] == '.') {
        std::size_t start = ++pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
        std::size_t count = pos - start;
        if (count == 0 || count > 9) return bad;
        for (std::size_t i = 0; i < 3; ++i) {
            millis = millis * 10 + (i < count ? text[start + i] - '0' : 0);
        }
    }
    if (pos >= text.size()) return bad;
    std::int64_t offset_minutes = 0;
    if (text[pos] == 'Z' || text[pos] == 'z') {
        if (pos + 1 != text.size()) return bad;
    } else if (text[pos] == '+' || text[pos] == '-') {
        if (pos + 6 != text.size() || text[pos + 3] != ':') return bad;
        auto offset_hours = digits_at(text, pos + 1, 2);
        auto offset_mins = digits_at(text, pos + 4, 2);
        if (!offset_hours || !offset_mins || *offset_hours > 23 || *offset_mins > 59) return bad;
        offset_minutes = *offset_hours * 60 + *offset_mins;
        if (text[pos] == '-') offset_minutes = -offset_minutes;
    } else {
        return bad;
    }
    std::int64_t days =
        days_from_civil(*year, static_cast<unsigned>(*month), static_cast<unsigned>(*day));
    std::int64_t seconds =
        days * 86400 + *hour * 3600 + *minute * 60 + *second - offset_minutes * 60;
    return seconds * 1000 + millis;
}

Log::Log(db::Database& database, const Clock& clock) : database_(database), clock_(clock) {}

namespace {

/// The entry an audited event becomes (seq and hashes are set when it is chained); nullopt for
/// an event type the log does not keep.
std::optional<Entry> entry_of_event(const events::Event& event) {
    if (!is_audited(event.type)) return std::nullopt;

    Entry entry;
    entry.id = event.id;
    entry.time_ms = event.time_ms;
    entry.action = event.type;
    boost::json::object details;
    auto parsed = json::parse(event.data_json);
    if (parsed && parsed->is_object()) {
        const boost::json::object& data = parsed->as_object();
        entry.actor_id = non_empty_string(data, "actor_id");
        bool actor_from_user = false;
        if (!entry.actor_id) {
            entry.actor_id = non_empty_string(data, "user_id");
            actor_from_user = true;
        }
        entry.org_id = non_empty_string(data, "org_id");
        entry.target_id = non_empty_string(data, "target_id");
        entry.ip = non_empty_string(data, "ip");
        for (const auto& item : data) {
            std::string_view key(item.key().data(), item.key().size());
            const boost::json::value& value = item.value();
            bool lifted = std::find(std::begin(kColumnKeys), std::end(kColumnKeys), key) !=
                          std::end(kColumnKeys);
            // The user id already named as actor, or empty (no account): nothing to repeat.
            if (key == "user_id" &&
                (actor_from_user || (value.is_string() && value.as_string().empty()))) {
                lifted = true;
            }
            if (!lifted && !secret_key(key)) details.emplace(key, value);
        }
    } else if (parsed) {
        details.emplace("data", *parsed);
    }
    entry.details_json = boost::json::serialize(details);
    return entry;
}

}  // namespace

Result<bool> Log::record(const events::Event& event) {
    auto appended = record_all({event});
    if (!appended) return appended.error();
    return *appended == 1;
}

Result<std::size_t> Log::record_all(const std::vector<events::Event>& events) {
    std::vector<Entry> entries;
    for (const events::Event& event : events) {
        if (auto entry = entry_of_event(event)) entries.push_back(std::move(*entry));
    }
    if (entries.empty()) return std::size_t{0};

    std::size_t appended = 0;
    auto done = database_.transact([&](db::Transaction& tx) -> Result<void> {
        appended = 0;  // a retried transaction starts over
        // Touching the head first takes its row lock on PostgreSQL, so appends from every node
        // queue here and each sees the head the previous one left (SQLite's BEGIN IMMEDIATE
        // already serializes writers).
        auto locked = tx.execute("UPDATE audit_chain_head SET updated_at_ms = ? WHERE id = 1",
                                 {clock_.now_ms()});
        if (!locked) return locked.error();
        if (*locked != 1) return Error::internal("the audit chain head row is missing");
        auto head = tx.query_one("SELECT seq, hash FROM audit_chain_head WHERE id = 1");
        if (!head) return head.error();
        if (!*head) return Error::internal("the audit chain head row is missing");
        std::int64_t seq = (*head)->get_int(0);
        std::string hash = (*head)->get_text(1);
        for (Entry& entry : entries) {
            auto existing =
                tx.query_one("SELECT seq FROM audit_entries WHERE event_id = ?", {entry.id});
            if (!existing) return existing.error();
            if (*existing) continue;  // redelivered: already appended
            entry.seq = seq + 1;
            entry.prev_hash = hash;
            entry.hash = entry_hash(entry);
            auto inserted = tx.execute(
                "INSERT INTO audit_entries (seq, event_id, time_ms, action, actor_id, org_id, "
                "target_id, ip, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                {entry.seq, entry.id, entry.time_ms, entry.action, entry.actor_id, entry.org_id,
                 entry.target_id, entry.ip, entry.details_json, entry.prev_hash, entry.hash});
            if (!inserted) return inserted.error();
            seq = entry.seq;
            hash = entry.hash;
            ++appended;
        }
        if (appended == 0) return {};
        auto moved =
            tx.execute("UPDATE audit_chain_head SET seq = ?, hash = ? WHERE id = 1", {seq, hash});
        if (!moved) return moved.error();
        return {};
    });
    if (!done) return done.error();
    return appended;
}

Result<Page> Log::list(const Query& query) const {
    if (query.limit < 1 || query.limit > kMaxLimit) {
        return Error::invalid(fmt::format("limit: must be between 1 and {}", kMaxLimit));
    }
    std::string sql = fmt::format("SELECT {} FROM audit_entries WHERE 1 = 1", kColumns);
    std::vector<db::Param> params;
    if (query.org_id) {
        sql += " AND org_id = ?";
        params.emplace_back(*query.org_id);
    }
    if (query.subject_id) {
        sql += " AND (actor_id = ? OR target_id = ?)";
        params.emplace_back(*query.subject_id);
        params.emplace_back(*query.subject_id);
    }
    if (query.action_prefix) {
        if (!valid_action_prefix(*query.action_prefix)) {
            return Error::invalid(
                "action: must be an event type prefix (lowercase letters, digits, '.', '_', '-')");
        }
        // '_' is LIKE's one-character wildcard and may appear in event types; escape it.
        std::string pattern;
        for (char c : *query.action_prefix) {
            if (c == '_') pattern += '!';
            pattern += c;
        }
        sql += " AND action LIKE ? ESCAPE '!'";
        params.emplace_back(pattern + "%");
    }
    if (query.actor_id) {
        sql += " AND actor_id = ?";
        params.emplace_back(*query.actor_id);
    }
    if (query.target_id) {
        sql += " AND target_id = ?";
        params.emplace_back(*query.target_id);
    }
    if (query.since_ms) {
        sql += " AND time_ms >= ?";
        params.emplace_back(*query.since_ms);
    }
    if (query.until_ms) {
        sql += " AND time_ms < ?";
        params.emplace_back(*query.until_ms);
    }
    if (query.before_seq) {
        sql += " AND seq < ?";
        params.emplace_back(*query.before_seq);
    }
    // One row more than asked says whether another page follows.
    sql += " ORDER BY seq DESC LIMIT ?";
    params.emplace_back(static_cast<std::int64_t>(query.limit) + 1);
    auto rows = database_.query(sql, params);
    if (!rows) return rows.error();
    Page page;
    for (const auto& row : *rows) {
        if (page.entries.size() == static_cast<std::size_t>(query.limit)) {
            page.next_cursor = encode_cursor(page.entries.back().seq);
            break;
        }
        page.entries.push_back(entry_of(row));
    }
    return page;
}

Result<VerifyReport> Log::verify() const {
    VerifyReport report;
    std::int64_t last_seq = 0;
    std::string last_hash(kGenesisHash);
    auto broken = [&](std::int64_t seq, std::string reason) {
        report.ok = false;
        report.broken_seq = seq;
        report.reason = std::move(reason);
        return report;
    };
    while (true) {
        auto rows = database_.query(
            fmt::format("SELECT {} FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?",
                        kColumns),
            {last_seq, kVerifyPageRows});
        if (!rows) return rows.error();
        for (const auto& row : *rows) {
            Entry entry = entry_of(row);
            std::int64_t expected = last_seq + 1;
            if (entry.seq != expected) {
                return broken(expected, fmt::format("entry {} is missing (the next stored entry "
                                                    "is {})",
                                                    expected, entry.seq));
            }
            if (entry.prev_hash != last_hash) {
                return broken(
                    entry.seq,
                    fmt::format("prev_hash does not match the hash of entry {}", last_seq));
            }
            if (entry_hash(entry) != entry.hash) {
                return broken(entry.seq, "the stored hash does not match the entry's fields");
            }
            last_seq = entry.seq;
            last_hash = entry.hash;
            ++report.entries;
        }
        if (static_cast<std::int64_t>(rows->size()) < kVerifyPageRows) break;
    }
    auto head = database_.query("SELECT seq, hash FROM audit_chain_head WHERE id = 1");
    if (!head) return head.error();
    if (head->empty()) return broken(last_seq + 1, "the chain head row is missing");
    std::int64_t head_seq = head->front().get_int(0);
    if (head_seq != last_seq) {
        return broken(std::min(head_seq, last_seq) + 1,
                      fmt::format("the chain head names entry {} but the log ends at entry {}",
                                  head_seq, last_seq));
    }
    if (head->front().get_text(1) != last_hash) {
        return broken(last_seq, "the chain head's hash does not match the last entry");
    }
    return report;
}

}  // namespace nimbus::audit
