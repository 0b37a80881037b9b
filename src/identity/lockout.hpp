#pragma once
// Brute-force protection (docs/identity.md, "Failed logins"): failed sign-ins counted per account
// and per client address in the database, so every node sees them; a progressive delay before
// answering, and a lock once a count reaches its threshold. Private to identity/.
//
// Accounts are counted by a hash of the email, not by user id, so an email without an account is
// slowed and locked exactly like one with: the answers cannot tell them apart.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "db/db.hpp"
#include "identity/identity.hpp"

namespace nimbus::identity::lockout {

/// The counter of an account: "account:" + SHA-256 of the normalized email.
std::string account_subject(std::string_view email);
/// The counter of a client address: "ip:" + the address.
std::string address_subject(std::string_view ip);

/// Recent failures of one account and one address.
struct State {
    std::int64_t account_failures = 0;  ///< within the window, since the last lock
    std::int64_t address_failures = 0;
    bool account_locked = false;
    bool address_locked = false;
    bool locked() const { return account_locked || address_locked; }
};

/// Reads both counters; failures older than the window do not count.
Result<State> read(db::Database& database, const std::string& account, const std::string& address,
                   std::int64_t now_ms, const LockoutSettings& settings);

/// The wait before answering: `delay_base_ms` after one failure, doubling with each further one,
/// at most `delay_max_ms`; the maximum while locked. An address is slowed like an account, with
/// its failures scaled by account_failures / address_failures (it may serve many people).
std::int64_t delay_ms(const State& state, const LockoutSettings& settings);

/// What recording a failure did.
struct Recorded {
    bool account_locked_now = false;  ///< this failure locked the account
    bool address_locked_now = false;
};

/// Counts one failure against both subjects (one upsert each) and locks those that reached their
/// threshold, restarting their count. Runs in the caller's transaction.
Result<Recorded> record_failure(db::Transaction& tx, const std::string& account,
                                const std::string& address, std::int64_t now_ms,
                                const LockoutSettings& settings);

/// Forgets an account's failures and lifts its lock (a successful login, a password reset).
Result<void> clear(db::Transaction& tx, const std::string& account);

}  // namespace nimbus::identity::lockout
