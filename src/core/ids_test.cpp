#include "core/ids.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <set>

#include <gtest/gtest.h>

namespace nimbus {
namespace {

constexpr std::int64_t kSomeTime = 1'795'000'000'000;

TEST(Ids, HavePrefixAndValidUlid) {
    std::string id = new_id("evt", kSomeTime);
    EXPECT_EQ(id.substr(0, 4), "evt_");
    EXPECT_EQ(id.size(), 4U + 26U);
    EXPECT_TRUE(is_valid_id(id, "evt"));
    EXPECT_FALSE(is_valid_id(id, "usr"));
}

TEST(Ids, SortByCreationTime) {
    std::string earlier = new_ulid(kSomeTime);
    std::string later = new_ulid(kSomeTime + 1);
    EXPECT_LT(earlier, later);
    EXPECT_LT(new_ulid(0), new_ulid(kSomeTime));
}

TEST(Ids, AreUniqueWithinOneMillisecond) {
    std::set<std::string> seen;
    constexpr int kCount = 10'000;
    for (int round = 0; round < kCount; ++round) seen.insert(new_ulid(kSomeTime));
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kCount));
}

TEST(Ids, RejectMalformed) {
    EXPECT_FALSE(is_valid_id("", "evt"));
    EXPECT_FALSE(is_valid_id("evt_", "evt"));
    EXPECT_FALSE(is_valid_id("evt-01JD2W3X4Y5Z6A7B8C9D0E1F2G", "evt"));
    EXPECT_FALSE(is_valid_id("evt_01JD2W3X4Y5Z6A7B8C9D0E1F2U", "evt"));  // U is not Crockford
    EXPECT_FALSE(is_valid_id("evt_81JD2W3X4Y5Z6A7B8C9D0E1F2G", "evt"));  // overflows 128 bits
    EXPECT_FALSE(is_valid_id("evt_01jd2w3x4y5z6a7b8c9d0e1f2g", "evt"));  // canonical is upper case
}

}  // namespace
}  // namespace nimbus

namespace nimbus {
namespace {

TEST(Ids, ForkedChildNeverRepeatsItsParentsIds) {
    std::string warm = new_ulid(kSomeTime);  // fill this thread's random pool before forking
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        std::string id = new_ulid(kSomeTime);
        (void)!::write(pipe_fds[1], id.data(), id.size());
        ::_exit(0);
    }
    std::string parent_id = new_ulid(kSomeTime);
    std::string child_id(26, '\0');
    ASSERT_EQ(::read(pipe_fds[0], child_id.data(), child_id.size()), 26);
    ::waitpid(child, nullptr, 0);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    EXPECT_NE(parent_id, child_id);
    EXPECT_NE(warm, child_id);
}

}  // namespace
}  // namespace nimbus
