// Group commit (db::GroupCommit) on real SQLite and real PostgreSQL: members share one commit,
// a failing member changes nothing and leaves the others committed, a failed commit reaches every
// member, and nobody is acknowledged before the commit.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "backend_test.hpp"

namespace nimbus::db {
namespace {

class GroupCommitTest : public testing::BackendTest {
protected:
    void SetUp() override {
        BackendTest::SetUp();
        if (IsSkipped() || HasFatalFailure()) return;
        ASSERT_TRUE(db().transact([](Transaction& tx) -> Result<void> {
            auto made = tx.execute("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT)");
            if (!made) return made.error();
            // Checked at COMMIT, so one member can make the shared commit fail.
            made = tx.execute(
                "CREATE TABLE refs (id BIGINT PRIMARY KEY, item_id BIGINT REFERENCES items (id) "
                "DEFERRABLE INITIALLY DEFERRED)");
            if (!made) return made.error();
            return {};
        }));
    }

    std::vector<std::int64_t> item_ids() {
        auto rows = db().query("SELECT id FROM items ORDER BY id");
        EXPECT_TRUE(rows) << rows.error().message;
        std::vector<std::int64_t> ids;
        if (rows) {
            for (const auto& row : *rows) ids.push_back(row.get_int(0));
        }
        return ids;
    }

    static GroupCommit::Work insert_item(std::int64_t id) {
        return [id](Transaction& tx) -> Result<void> {
            auto done = tx.execute("INSERT INTO items (id, name) VALUES (?, ?)",
                                   {id, "item " + std::to_string(id)});
            if (!done) return done.error();
            return {};
        };
    }

    /// Submits `first` (which holds the committer until `release` is set), then `rest`: the
    /// rest queue up behind it and are taken as one batch. Returns every member's outcome.
    static std::vector<Result<void>> run_batch(GroupCommit& group, GroupCommit::Work first,
                                               std::vector<GroupCommit::Work> rest) {
        std::promise<void> started;
        std::promise<void> release;
        std::shared_future<void> released = release.get_future().share();
        std::vector<std::promise<Result<void>>> outcomes(rest.size() + 1);
        group.submit(
            [first = std::move(first), released, &started](Transaction& tx) {
                started.set_value();
                released.wait();
                return first(tx);
            },
            [&outcome = outcomes[0]](Result<void> done) { outcome.set_value(std::move(done)); });
        // The committer has taken the first member: everything submitted now queues behind it.
        started.get_future().wait();
        for (std::size_t member_idx = 0; member_idx < rest.size(); ++member_idx) {
            group.submit(std::move(rest[member_idx]),
                         [&outcome = outcomes[member_idx + 1]](Result<void> done) {
                             outcome.set_value(std::move(done));
                         });
        }
        release.set_value();
        std::vector<Result<void>> results;
        for (auto& outcome : outcomes) results.push_back(outcome.get_future().get());
        return results;
    }
};

TEST_P(GroupCommitTest, QueuedMembersShareOneCommit) {
    GroupCommit group(db());
    std::vector<GroupCommit::Work> rest;
    for (std::int64_t id = 2; id <= 10; ++id) rest.push_back(insert_item(id));
    auto results = run_batch(group, insert_item(1), std::move(rest));
    for (const auto& result : results) EXPECT_TRUE(result) << result.error().message;
    EXPECT_EQ(item_ids(), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
    auto stats = group.stats();
    EXPECT_EQ(stats.members, 10u);
    EXPECT_EQ(stats.commits, 2u) << "the first member alone, then the nine queued behind it";
}

TEST_P(GroupCommitTest, AFailingMemberChangesNothingAndTheOthersCommit) {
    GroupCommit group(db());
    auto results =
        run_batch(group, insert_item(1),
                  {insert_item(2),
                   // Writes, then fails: its own row must be rolled back.
                   [](Transaction& tx) -> Result<void> {
                       auto done = tx.execute("INSERT INTO items (id, name) VALUES (3, 'three')");
                       if (!done) return done.error();
                       return Error::invalid("refused after writing");
                   },
                   // A statement the server rejects (PostgreSQL then aborts the transaction until
                   // the savepoint is rolled back).
                   insert_item(2),
                   // Throws after writing.
                   [](Transaction& tx) -> Result<void> {
                       (void)tx.execute("INSERT INTO items (id, name) VALUES (5, 'five')");
                       throw std::runtime_error("boom");
                   },
                   insert_item(6)});
    ASSERT_EQ(results.size(), 6u);
    EXPECT_TRUE(results[0]);
    EXPECT_TRUE(results[1]);
    ASSERT_FALSE(results[2]);
    EXPECT_EQ(results[2].error().code, ErrorCode::invalid_argument);
    ASSERT_FALSE(results[3]);
    EXPECT_EQ(results[3].error().code, ErrorCode::conflict);
    ASSERT_FALSE(results[4]);
    EXPECT_EQ(results[4].error().code, ErrorCode::internal);
    EXPECT_TRUE(results[5]) << results[5].error().message;
    EXPECT_EQ(item_ids(), (std::vector<std::int64_t>{1, 2, 6}));
}

TEST_P(GroupCommitTest, MembersSeeEarlierMembersWrites) {
    GroupCommit group(db());
    std::int64_t seen = -1;
    auto results =
        run_batch(group, insert_item(1), {insert_item(2), [&seen](Transaction& tx) -> Result<void> {
                                              auto rows = tx.query("SELECT COUNT(*) FROM items");
                                              if (!rows) return rows.error();
                                              seen = rows->at(0).get_int(0);
                                              return {};
                                          }});
    for (const auto& result : results) EXPECT_TRUE(result);
    EXPECT_EQ(seen, 2);
}

TEST_P(GroupCommitTest, AFailedCommitReachesEveryMemberAndWritesNothing) {
    GroupCommit group(db());
    auto results =
        run_batch(group, insert_item(1), {insert_item(2), [](Transaction& tx) -> Result<void> {
                                              // Points at no item: the deferred check fails the
                                              // COMMIT.
                                              auto done = tx.execute(
                                                  "INSERT INTO refs (id, item_id) "
                                                  "VALUES (1, 999)");
                                              if (!done) return done.error();
                                              return {};
                                          }});
    ASSERT_EQ(results.size(), 3u);
    EXPECT_TRUE(results[0]) << "committed alone, before the others were queued";
    EXPECT_FALSE(results[1]);
    EXPECT_FALSE(results[2]);
    EXPECT_EQ(item_ids(), (std::vector<std::int64_t>{1}));
}

TEST_P(GroupCommitTest, ABrokenTransactionFailsItsMembersAndTheRestRunAfresh) {
    GroupCommit group(db());
    auto results = run_batch(group, insert_item(1),
                             {insert_item(2),
                              // Ends the shared transaction behind the group's back: the
                              // savepoint is gone, so member 2's write is lost with it.
                              [](Transaction& tx) -> Result<void> {
                                  (void)tx.execute("ROLLBACK");
                                  return Error::internal("rolled back");
                              },
                              insert_item(4)});
    ASSERT_EQ(results.size(), 4u);
    EXPECT_TRUE(results[0]);
    ASSERT_FALSE(results[1]);
    EXPECT_EQ(results[1].error().code, ErrorCode::unavailable);
    EXPECT_FALSE(results[2]);
    EXPECT_TRUE(results[3]) << results[3].error().message;
    EXPECT_EQ(item_ids(), (std::vector<std::int64_t>{1, 4}));
}

TEST_P(GroupCommitTest, TransactWaitsForTheCommit) {
    GroupCommit group(db());
    ASSERT_TRUE(group.transact(insert_item(7)));
    EXPECT_EQ(item_ids(), (std::vector<std::int64_t>{7}));
    auto refused = group.transact(
        [](Transaction&) -> Result<void> { return Error::not_found("nothing to do"); });
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, ErrorCode::not_found);
}

TEST_P(GroupCommitTest, TransactFromTheCommitterThreadIsRefused) {
    GroupCommit group(db());
    Result<void> nested;
    ASSERT_TRUE(group.transact([&](Transaction&) -> Result<void> {
        nested = group.transact(insert_item(1));
        return {};
    }));
    ASSERT_FALSE(nested);
    EXPECT_EQ(nested.error().code, ErrorCode::internal);
    EXPECT_TRUE(item_ids().empty());
}

TEST_P(GroupCommitTest, DestructionRunsWhatWasSubmitted) {
    std::vector<Result<void>> outcomes;
    {
        GroupCommit group(db());
        for (std::int64_t id = 1; id <= 5; ++id) {
            group.submit(insert_item(id),
                         [&outcomes](Result<void> done) { outcomes.push_back(std::move(done)); });
        }
    }
    ASSERT_EQ(outcomes.size(), 5u);
    for (const auto& outcome : outcomes) EXPECT_TRUE(outcome);
    EXPECT_EQ(item_ids(), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
}

INSTANTIATE_TEST_SUITE_P(Backends, GroupCommitTest, testing::kBothBackends, testing::backend_name);

}  // namespace
}  // namespace nimbus::db
