// Signing-key rotation (docs/identity.md, "Signing keys"). The database is the source of truth:
// every node runs the same check, a new generation is inserted at most once (its number is
// unique), and each node re-reads the keys every `signing_key_check_s`.
//
// Life of a key: created and published in the JWKS -> signs from `activates_at_ms`, which is
// `access_token_ttl_s + signing_key_check_s` after creation, so every node and every verifier
// that caches the JWKS for up to an access-token lifetime knows it before the first token it
// signs -> stops signing when its successor activates -> retired (unpublished) once every token
// it signed has expired: the successor's activation + access-token lifetime + clock leeway + one
// check interval (a node may switch that much late).
#include <boost/json/array.hpp>

#include "core/ids.hpp"
#include "identity/service_impl.hpp"
#include "identity/store.hpp"

namespace nimbus::identity {
namespace {

constexpr std::int64_t kMsPerDay = 24 * 3600 * kMsPerSecond;

/// An unretired key as stored.
struct KeyRow {
    std::string id;
    std::int64_t generation = 0;
    db::Bytes private_key_sealed;
    std::int64_t created_at_ms = 0;
    std::int64_t activates_at_ms = 0;
};

Result<std::vector<KeyRow>> read_keys(db::Database& database) {
    auto rows = database.query(
        "SELECT id, generation, private_key_sealed, created_at_ms, COALESCE(activates_at_ms, "
        "created_at_ms) FROM identity_signing_keys WHERE retired_at_ms IS NULL ORDER BY "
        "generation");
    if (!rows) return rows.error();
    std::vector<KeyRow> keys;
    for (const auto& row : *rows) {
        keys.push_back(
            {row.get_text(0), row.get_int(1), row.get_blob(2), row.get_int(3), row.get_int(4)});
    }
    return keys;
}

}  // namespace

Result<void> Service::Impl::load_signing_keys() {
    auto stored = read_keys(database);
    if (!stored) return stored.error();
    std::int64_t now = clock.now_ms();
    std::map<std::string, jwt::SigningKey, std::less<>> loaded;
    boost::json::array published;
    std::string signer;
    for (const auto& row : *stored) {
        auto pem =
            master_key.open(row.private_key_sealed, std::string(kKeyAssociatedPrefix) + row.id);
        if (!pem) {
            return Error::internal("signing key " + row.id +
                                   " cannot be opened with this master key");
        }
        auto key = jwt::SigningKey::from_private_pem(*pem);
        if (!key) return key.error();
        published.push_back(key->public_jwk(row.id));
        loaded.emplace(row.id, std::move(*key));
        // Ordered by generation: the newest key already active signs.
        if (row.activates_at_ms <= now || signer.empty()) signer = row.id;
    }
    if (signer.empty()) return Error::internal("no signing key is stored");
    std::unique_lock lock(keys_mutex);
    keys = std::move(loaded);
    current_kid = signer;
    jwks = boost::json::serialize(boost::json::object{{"keys", std::move(published)}});
    return {};
}

Result<void> Service::maintain_signing_keys() {
    Impl& s = *impl_;
    auto stored = read_keys(s.database);
    if (!stored) return stored.error();
    std::int64_t now = s.clock.now_ms();
    std::int64_t lead_ms =
        (s.settings.access_token_ttl_s + s.settings.signing_key_check_s) * kMsPerSecond;
    std::int64_t retire_after_ms =
        (s.settings.access_token_ttl_s + kClockLeewayS + s.settings.signing_key_check_s) *
        kMsPerSecond;

    // A new installation signs at once; a rotation publishes first and signs `lead_ms` later.
    std::optional<std::pair<std::int64_t, std::int64_t>> create;  // generation, activates at
    if (stored->empty()) {
        create = {1, now};
    } else if (s.settings.signing_key_rotation_days > 0) {
        const KeyRow& newest = stored->back();
        std::int64_t due =
            newest.activates_at_ms + s.settings.signing_key_rotation_days * kMsPerDay - lead_ms;
        if (now >= due) create = {newest.generation + 1, now + lead_ms};
    }
    // Keys whose successor has signed long enough that no token of theirs is still valid.
    std::vector<std::string> retire;
    for (std::size_t i = 0; i + 1 < stored->size(); ++i) {
        if ((*stored)[i + 1].activates_at_ms + retire_after_ms <= now) {
            retire.push_back((*stored)[i].id);
        }
    }

    if (create || !retire.empty()) {
        std::optional<store::SigningKeyRow> row;
        std::string jwk;
        if (create) {
            auto key = jwt::SigningKey::generate();
            if (!key) return key.error();
            row = store::SigningKeyRow{new_id("jwk", now), create->first, {}};
            row->private_key_sealed =
                s.master_key.seal(key->private_pem(), std::string(kKeyAssociatedPrefix) + row->id);
            jwk = boost::json::serialize(key->public_jwk(row->id));
        }
        auto committed = s.database.transact([&](db::Transaction& tx) -> Result<void> {
            if (row) {
                auto inserted = store::insert_signing_key(tx, *row, jwk, now);
                if (!inserted) return inserted.error();
                // Another node inserted this generation first; its key is the one.
                if (*inserted) {
                    auto activated = tx.execute(
                        "UPDATE identity_signing_keys SET activates_at_ms = ? WHERE id = ?",
                        {create->second, row->id});
                    if (!activated) return activated.error();
                    // The first key of an installation replaces nothing.
                    std::string_view type =
                        row->generation == 1 ? "signing_key.created" : "signing_key.rotated";
                    if (auto ok = s.emit(tx, type, row->id,
                                         {{"actor_id", "system"},
                                          {"target_id", row->id},
                                          {"generation", row->generation},
                                          {"activates_at", format_rfc3339(create->second)},
                                          {"ip", ""}});
                        !ok) {
                        return ok;
                    }
                }
            }
            for (const auto& kid : retire) {
                auto retired = tx.execute(
                    "UPDATE identity_signing_keys SET retired_at_ms = ? WHERE id = ? AND "
                    "retired_at_ms IS NULL",
                    {now, kid});
                if (!retired) return retired.error();
                if (*retired != 1) continue;  // another node retired it
                if (auto ok = s.emit(tx, "signing_key.retired", kid,
                                     {{"actor_id", "system"}, {"target_id", kid}, {"ip", ""}});
                    !ok) {
                    return ok;
                }
            }
            return {};
        });
        if (!committed) return committed.error();
    }
    return s.load_signing_keys();
}

void Service::start_key_maintenance() {
    Impl& s = *impl_;
    std::lock_guard lock(s.maintenance_mutex);
    if (s.maintenance_thread.joinable()) return;
    s.maintenance_thread = std::thread([this] {
        Impl& impl = *impl_;
        auto interval = std::chrono::seconds(impl.settings.signing_key_check_s);
        std::unique_lock lock(impl.maintenance_mutex);
        while (!impl.maintenance_wake.wait_for(lock, interval,
                                               [&] { return impl.maintenance_stop; })) {
            lock.unlock();
            // A failure (database away) leaves the loaded keys in use; the next round retries.
            if (auto ok = maintain_signing_keys(); !ok) {
                log::warn("signing keys not refreshed", {{"error", ok.error().message}});
            }
            lock.lock();
        }
    });
}

void Service::Impl::stop_key_maintenance() {
    {
        std::lock_guard lock(maintenance_mutex);
        maintenance_stop = true;
    }
    maintenance_wake.notify_all();
    if (maintenance_thread.joinable()) maintenance_thread.join();
    if (sweep_thread.joinable()) sweep_thread.join();
    if (revocation_thread.joinable()) revocation_thread.join();
}

}  // namespace nimbus::identity
