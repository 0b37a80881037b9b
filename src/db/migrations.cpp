// Schema migrations: each module's numbered SQL files, applied once, in order, and recorded with
// a checksum so that editing an applied migration (which would leave databases that ran the old
// text different from new ones) is caught at start instead of drifting silently.

#include <openssl/evp.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "db/db.hpp"

namespace nimbus::db {
namespace {

/// Serializes migrating nodes on PostgreSQL (pg_advisory_xact_lock key; "nimbus" + 1 in ASCII).
constexpr std::int64_t kMigrationLockKey = 0x6e696d6275730001;

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " module TEXT NOT NULL,"
    " version INTEGER NOT NULL,"
    " name TEXT NOT NULL,"
    " checksum TEXT NOT NULL,"
    " applied_at_ms BIGINT NOT NULL,"
    " PRIMARY KEY (module, version))";

std::string sha256_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_size = 0;
    // A failing SHA-256 over memory means a broken OpenSSL install: nothing sensible to do.
    if (EVP_Digest(text.data(), text.size(), digest, &digest_size, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("OpenSSL SHA-256 failed");
    }
    std::string hex;
    hex.reserve(digest_size * 2);
    for (unsigned int byte_idx = 0; byte_idx < digest_size; ++byte_idx) {
        hex.append(fmt::format("{:02x}", digest[byte_idx]));
    }
    return hex;
}

std::string_view sql_for(const Migration& migration, Backend backend) {
    return backend == Backend::postgres ? migration.postgres_sql : migration.sqlite_sql;
}

std::string label(std::string_view module, int version, std::string_view name) {
    return fmt::format("{}/{:03}_{}", module, version, name);
}

Result<void> lock_for_migrations(Transaction& tx) {
    if (tx.backend() != Backend::postgres) return {};  // SQLite: BEGIN IMMEDIATE already serializes
    auto locked = tx.query("SELECT pg_advisory_xact_lock(CAST(? AS BIGINT))", {kMigrationLockKey});
    if (!locked) return locked.error();
    return {};
}

Result<bool> table_exists(Database& db) {
    auto rows = db.backend() == Backend::postgres
                    ? db.query("SELECT 1 WHERE to_regclass('schema_migrations') IS NOT NULL")
                    : db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               {"schema_migrations"});
    if (!rows) return rows.error();
    return !rows->empty();
}

constexpr std::string_view kSelectApplied =
    "SELECT module, version, name, checksum, applied_at_ms FROM schema_migrations"
    " ORDER BY module, version";

std::vector<MigrationStatus> to_statuses(const Rows& rows) {
    std::vector<MigrationStatus> applied;
    applied.reserve(rows.size());
    for (const Row& row : rows) {
        applied.push_back({row.get_text(0), static_cast<int>(row.get_int(1)), row.get_text(2),
                           row.get_text(3), row.get_int(4)});
    }
    return applied;
}

Result<std::vector<MigrationStatus>> read_applied(Transaction& tx) {
    auto rows = tx.query(kSelectApplied);
    if (!rows) return rows.error();
    return to_statuses(*rows);
}

/// Same, through a reader connection, without creating the table.
Result<std::vector<MigrationStatus>> read_applied(Database& db) {
    // The table nearly always exists (probes and /system/info read it on every call), so ask
    // for the rows first and look for the table only when that fails.
    auto rows = db.query(kSelectApplied);
    if (rows) return to_statuses(*rows);
    auto exists = table_exists(db);
    if (!exists) return exists.error();
    if (!*exists) return std::vector<MigrationStatus>();
    return rows.error();
}

Result<void> check_code(std::span<const ModuleMigrations> modules) {
    for (const ModuleMigrations& module : modules) {
        int previous = 0;
        for (const Migration& migration : *module.migrations) {
            // The generator sorts files by name, so this only fails for hand-built lists.
            if (migration.version <= previous) {
                return Error::internal(
                    fmt::format("migrations of {} are not in increasing order", module.module));
            }
            previous = migration.version;
        }
    }
    return {};
}

/// Builds the status of every known migration and checks what the database holds against it.
Result<std::vector<MigrationStatus>> compare(Backend backend,
                                             std::span<const ModuleMigrations> modules,
                                             const std::vector<MigrationStatus>& applied) {
    std::map<std::pair<std::string, int>, const MigrationStatus*> applied_by_key;
    for (const MigrationStatus& record : applied) {
        applied_by_key[{record.module, record.version}] = &record;
    }
    std::vector<MigrationStatus> statuses;
    for (const ModuleMigrations& module : modules) {
        for (const Migration& migration : *module.migrations) {
            MigrationStatus status{std::string(module.module), migration.version,
                                   std::string(migration.name),
                                   sha256_hex(sql_for(migration, backend)), std::nullopt};
            auto found = applied_by_key.find({status.module, status.version});
            if (found != applied_by_key.end()) {
                if (found->second->checksum != status.checksum) {
                    return Error::conflict(fmt::format(
                        "migration {} was changed after it was applied (checksum differs)",
                        label(module.module, migration.version, migration.name)));
                }
                status.applied_at_ms = found->second->applied_at_ms;
                applied_by_key.erase(found);
            }
            statuses.push_back(std::move(status));
        }
    }
    // Whatever is left belongs to a module we know but a version we do not.
    for (const auto& entry : applied_by_key) {
        const auto& record = entry.second;
        const bool module_known = std::any_of(
            modules.begin(), modules.end(),
            [&](const ModuleMigrations& module) { return module.module == record->module; });
        if (module_known) {
            return Error::conflict(fmt::format(
                "migration {} is applied in the database but unknown to this binary (was a newer "
                "version rolled back?)",
                label(record->module, record->version, record->name)));
        }
    }
    return statuses;
}

Result<void> apply_one(Database& db, std::string_view module, const Migration& migration,
                       const std::string& checksum, std::int64_t now_ms, bool& applied) {
    applied = false;
    return db.transact([&](Transaction& tx) -> Result<void> {
        if (auto locked = lock_for_migrations(tx); !locked) return locked;
        // Another node may have applied it since we looked; the lock makes this check final.
        auto existing =
            tx.query_one("SELECT checksum FROM schema_migrations WHERE module = ? AND version = ?",
                         {module, migration.version});
        if (!existing) return existing.error();
        if (*existing) {
            if ((*existing)->get_text(0) != checksum) {
                return Error::conflict(
                    fmt::format("migration {} was changed after it was applied (checksum differs)",
                                label(module, migration.version, migration.name)));
            }
            return {};
        }
        if (auto ran = tx.execute_script(sql_for(migration, tx.backend())); !ran) {
            return Error{
                ran.error().code,
                fmt::format("migration {} failed: {}",
                            label(module, migration.version, migration.name), ran.error().message)};
        }
        auto recorded = tx.execute(
            "INSERT INTO schema_migrations (module, version, name, checksum, applied_at_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            {module, migration.version, migration.name, checksum, now_ms});
        if (!recorded) return recorded.error();
        applied = true;
        return {};
    });
}

}  // namespace

Result<std::vector<MigrationStatus>> migration_status(Database& db,
                                                      std::span<const ModuleMigrations> modules) {
    if (auto checked = check_code(modules); !checked) return checked.error();
    auto applied = read_applied(db);
    if (!applied) return applied.error();
    return compare(db.backend(), modules, *applied);
}

Result<std::vector<MigrationStatus>> migrate_up(Database& db,
                                                std::span<const ModuleMigrations> modules,
                                                std::int64_t now_ms) {
    if (auto checked = check_code(modules); !checked) return checked.error();
    std::vector<MigrationStatus> applied_before;
    auto prepared = db.transact([&](Transaction& tx) -> Result<void> {
        if (auto locked = lock_for_migrations(tx); !locked) return locked;
        if (auto created = tx.execute(kCreateTable); !created) return created.error();
        auto applied = read_applied(tx);
        if (!applied) return applied.error();
        applied_before = std::move(*applied);
        return {};
    });
    if (!prepared) return prepared.error();
    // Refuse before changing anything when the database does not match the code.
    auto statuses = compare(db.backend(), modules, applied_before);
    if (!statuses) return statuses.error();

    std::vector<MigrationStatus> applied_now;
    std::size_t status_idx = 0;
    for (const ModuleMigrations& module : modules) {
        for (const Migration& migration : *module.migrations) {
            MigrationStatus& status = (*statuses)[status_idx++];
            if (status.applied_at_ms) continue;
            bool applied = false;
            auto done = apply_one(db, module.module, migration, status.checksum, now_ms, applied);
            if (!done) return done.error();
            if (applied) {
                status.applied_at_ms = now_ms;
                applied_now.push_back(status);
            }
        }
    }
    return applied_now;
}

Result<std::vector<MigrationStatus>> applied_migrations(Database& db) { return read_applied(db); }

}  // namespace nimbus::db
