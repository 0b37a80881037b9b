#pragma once
// SQL of the second factor (TOTP secrets, recovery codes, login challenges), private to
// identity/. Every statement is filtered by the user it concerns.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "db/db.hpp"

namespace nimbus::identity::store {

/// A user's TOTP authenticator.
struct TotpRow {
    db::Bytes secret_sealed;
    bool confirmed = false;
    std::int64_t confirmed_at_ms = 0;
    std::int64_t last_used_step = 0;
};
Result<std::optional<TotpRow>> find_totp(db::Database& database, const std::string& user_id);
Result<std::optional<TotpRow>> find_totp(db::Transaction& tx, const std::string& user_id);
/// Stores a pending secret, replacing a pending one; false when TOTP is already confirmed.
Result<bool> put_pending_totp(db::Transaction& tx, const std::string& user_id,
                              const db::Bytes& secret_sealed, std::int64_t now_ms);
/// Confirms the pending secret, recording `step` as used; false when none is pending.
Result<bool> confirm_totp(db::Transaction& tx, const std::string& user_id, std::int64_t step,
                          std::int64_t now_ms);
/// Records `step` as used when it is newer than the last one; false when it is not (a code
/// seen before, or an older one), so each code works once even with two requests racing.
Result<bool> use_totp_step(db::Transaction& tx, const std::string& user_id, std::int64_t step);
Result<bool> delete_totp(db::Transaction& tx, const std::string& user_id);

/// Replaces the user's recovery codes with these hashes.
Result<void> replace_recovery_codes(db::Transaction& tx, const std::string& user_id,
                                    const std::vector<std::string>& code_hashes,
                                    std::int64_t now_ms);
/// Spends an unused recovery code; false when there is none with this hash.
Result<bool> use_recovery_code(db::Transaction& tx, const std::string& user_id,
                               const std::string& code_hash, std::int64_t now_ms);
Result<std::int64_t> count_recovery_codes(db::Database& database, const std::string& user_id);
Result<void> delete_recovery_codes(db::Transaction& tx, const std::string& user_id);

/// An open second step of a login.
struct Challenge {
    std::string user_id;
    std::int64_t failed_attempts = 0;
};
Result<void> insert_challenge(db::Transaction& tx, const std::string& token_hash,
                              const std::string& user_id, std::int64_t now_ms,
                              std::int64_t expires_at_ms);
/// The challenge when it is unused and unexpired.
Result<std::optional<Challenge>> find_challenge(db::Database& database,
                                                const std::string& token_hash, std::int64_t now_ms);
/// Spends the challenge; false when it was not usable any more (used, expired, raced).
Result<bool> consume_challenge(db::Transaction& tx, const std::string& token_hash,
                               std::int64_t now_ms);
/// Counts a wrong code; the challenge is spent at `max_attempts`.
Result<void> fail_challenge(db::Transaction& tx, const std::string& token_hash,
                            std::int64_t max_attempts, std::int64_t now_ms);

}  // namespace nimbus::identity::store
