// Migrations on both backends.
#include <gtest/gtest.h>

#include <thread>

#include "backend_test.hpp"

namespace nimbus::db {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

const std::vector<Migration> kNotesV1 = {
    {1, "notes", "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);",
     "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);"},
    {2, "notes_tags",
     "CREATE TABLE note_tags (note_id BIGINT NOT NULL REFERENCES notes(id), tag TEXT NOT NULL);\n"
     "CREATE INDEX note_tags_tag ON note_tags (tag);",
     "CREATE TABLE note_tags (note_id BIGINT NOT NULL REFERENCES notes(id), tag TEXT NOT NULL);\n"
     "CREATE INDEX note_tags_tag ON note_tags (tag);"},
};

const std::vector<Migration> kOtherModule = {
    {1, "things", "CREATE TABLE things (id BIGINT);", "CREATE TABLE things (id BIGINT);"},
};

class MigrationsTest : public testing::BackendTest {
protected:
    bool table_exists(std::string_view table) {
        auto rows = is_postgres()
                        ? db().query("SELECT 1 FROM pg_tables WHERE tablename = ?", {table})
                        : db().query("SELECT 1 FROM sqlite_master WHERE name = ?", {table});
        EXPECT_TRUE(rows);
        return rows && !rows->empty();
    }
};

TEST_P(MigrationsTest, AppliesPendingMigrationsInOrderOnce) {
    const ModuleMigrations modules[] = {{"notes", &kNotesV1}, {"other", &kOtherModule}};
    auto before = migration_status(db(), modules);
    ASSERT_TRUE(before) << before.error().message;
    ASSERT_EQ(before->size(), 3u);
    for (const auto& status : *before) EXPECT_FALSE(status.applied_at_ms);

    auto applied = migrate_up(db(), modules, kNow);
    ASSERT_TRUE(applied) << applied.error().message;
    ASSERT_EQ(applied->size(), 3u);
    EXPECT_EQ(applied->at(0).module, "notes");
    EXPECT_EQ(applied->at(0).version, 1);
    EXPECT_EQ(applied->at(1).version, 2);
    EXPECT_EQ(applied->at(2).module, "other");
    EXPECT_EQ(applied->at(0).checksum.size(), 64u);  // SHA-256 in hex
    EXPECT_TRUE(table_exists("notes"));
    EXPECT_TRUE(table_exists("note_tags"));
    EXPECT_TRUE(table_exists("things"));

    auto again = migrate_up(db(), modules, kNow + 1);
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_TRUE(again->empty()) << "a second run applies nothing";

    auto status = migration_status(db(), modules);
    ASSERT_TRUE(status);
    for (const auto& entry : *status) {
        EXPECT_EQ(entry.applied_at_ms, kNow) << entry.module << "/" << entry.version;
    }
    auto recorded = applied_migrations(db());
    ASSERT_TRUE(recorded);
    ASSERT_EQ(recorded->size(), 3u);
    EXPECT_EQ(recorded->at(1).name, "notes_tags");
    EXPECT_EQ(recorded->at(1).checksum, applied->at(1).checksum);
}

TEST_P(MigrationsTest, AppliesOnlyWhatIsNew) {
    const std::vector<Migration> first_only = {kNotesV1[0]};
    const ModuleMigrations old_binary[] = {{"notes", &first_only}};
    ASSERT_TRUE(migrate_up(db(), old_binary, kNow));
    const ModuleMigrations new_binary[] = {{"notes", &kNotesV1}};
    auto status = migration_status(db(), new_binary);
    ASSERT_TRUE(status);
    EXPECT_TRUE(status->at(0).applied_at_ms);
    EXPECT_FALSE(status->at(1).applied_at_ms);
    auto applied = migrate_up(db(), new_binary, kNow + 1);
    ASSERT_TRUE(applied);
    ASSERT_EQ(applied->size(), 1u);
    EXPECT_EQ(applied->at(0).version, 2);
    EXPECT_EQ(applied->at(0).applied_at_ms, kNow + 1);
}

TEST_P(MigrationsTest, StatusWithoutTheTableShowsAllPendingAndCreatesNothing) {
    const ModuleMigrations modules[] = {{"notes", &kNotesV1}};
    auto status = migration_status(db(), modules);
    ASSERT_TRUE(status) << status.error().message;
    EXPECT_EQ(status->size(), 2u);
    EXPECT_FALSE(table_exists("schema_migrations"));
    auto recorded = applied_migrations(db());
    ASSERT_TRUE(recorded);
    EXPECT_TRUE(recorded->empty());
}

TEST_P(MigrationsTest, ChangedMigrationIsRefused) {
    const ModuleMigrations modules[] = {{"notes", &kNotesV1}};
    ASSERT_TRUE(migrate_up(db(), modules, kNow));
    std::vector<Migration> edited = kNotesV1;
    edited[0].sqlite_sql = "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT);";
    edited[0].postgres_sql = edited[0].sqlite_sql;
    const ModuleMigrations changed[] = {{"notes", &edited}};
    auto refused = migrate_up(db(), changed, kNow + 1);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::conflict);
    EXPECT_EQ(refused.error().message,
              "migration notes/001_notes was changed after it was applied (checksum differs)");
    auto status = migration_status(db(), changed);
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, ErrorCode::conflict);
}

TEST_P(MigrationsTest, UnknownAppliedMigrationIsRefused) {
    const ModuleMigrations newer[] = {{"notes", &kNotesV1}};
    ASSERT_TRUE(migrate_up(db(), newer, kNow));
    const std::vector<Migration> first_only = {kNotesV1[0]};
    const ModuleMigrations rolled_back[] = {{"notes", &first_only}};
    auto refused = migrate_up(db(), rolled_back, kNow + 1);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::conflict);
    EXPECT_NE(refused.error().message.find("notes/002_notes_tags"), std::string::npos)
        << refused.error().message;
    EXPECT_NE(refused.error().message.find("unknown to this binary"), std::string::npos);
    // Modules this call does not mention are not judged.
    const ModuleMigrations unrelated[] = {{"other", &kOtherModule}};
    EXPECT_TRUE(migrate_up(db(), unrelated, kNow + 1));
}

TEST_P(MigrationsTest, FailingMigrationRollsBackCompletelyAndIsNotRecorded) {
    const std::vector<Migration> broken = {
        kNotesV1[0],
        {2, "broken",
         "CREATE TABLE half_done (id BIGINT);\nINSERT INTO notes (id, body) VALUES (1, 'x');\n"
         "CREATE TABLE notes (id BIGINT);",
         "CREATE TABLE half_done (id BIGINT);\nINSERT INTO notes (id, body) VALUES (1, 'x');\n"
         "CREATE TABLE notes (id BIGINT);"},
    };
    const ModuleMigrations modules[] = {{"notes", &broken}};
    auto failed = migrate_up(db(), modules, kNow);
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().message.find("notes/002_broken"), std::string::npos)
        << failed.error().message;
    EXPECT_TRUE(table_exists("notes")) << "the good migration before it stays";
    EXPECT_FALSE(table_exists("half_done"));
    auto rows = db().query("SELECT COUNT(*) FROM notes");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->at(0).get_int(0), 0);
    auto recorded = applied_migrations(db());
    ASSERT_TRUE(recorded);
    ASSERT_EQ(recorded->size(), 1u);
    EXPECT_EQ(recorded->at(0).version, 1);
}

TEST_P(MigrationsTest, NodesStartingTogetherApplyEachMigrationOnce) {
    constexpr int kNodes = 3;
    const ModuleMigrations modules[] = {{"notes", &kNotesV1}, {"other", &kOtherModule}};
    std::vector<std::unique_ptr<Database>> nodes;
    for (int node_idx = 0; node_idx < kNodes; ++node_idx) {
        auto node = store_->open_again({});
        ASSERT_TRUE(node) << node.error().message;
        nodes.push_back(std::move(*node));
    }
    std::vector<std::size_t> applied_counts(kNodes, 0);
    std::vector<std::string> errors(kNodes);
    std::vector<std::thread> threads;
    for (int node_idx = 0; node_idx < kNodes; ++node_idx) {
        threads.emplace_back([&, node_idx] {
            auto applied = migrate_up(*nodes[static_cast<std::size_t>(node_idx)], modules, kNow);
            if (applied) {
                applied_counts[static_cast<std::size_t>(node_idx)] = applied->size();
            } else {
                errors[static_cast<std::size_t>(node_idx)] = applied.error().message;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    std::size_t total = 0;
    for (int node_idx = 0; node_idx < kNodes; ++node_idx) {
        EXPECT_EQ(errors[static_cast<std::size_t>(node_idx)], "");
        total += applied_counts[static_cast<std::size_t>(node_idx)];
    }
    EXPECT_EQ(total, 3u);
    auto recorded = applied_migrations(db());
    ASSERT_TRUE(recorded);
    EXPECT_EQ(recorded->size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrationsTest, testing::kBothBackends, testing::backend_name);

}  // namespace
}  // namespace nimbus::db
