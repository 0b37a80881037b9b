// Cursor pagination of identity's lists over real sockets (members, invitations, roles, API keys,
// OAuth clients, sessions): walking every page answers each row exactly once, `next_cursor` is
// null on the last page, bad cursors and limits are 400 problems, and a cursor never reaches
// into another organization.
#include <set>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "core/crypto.hpp"
#include "org_stack.hpp"

#ifdef NIMBUS_IDENTITY_TEST_POSTGRES
#define Pagination PaginationOnPostgres
#endif

namespace nimbus::test {
namespace {

boost::json::object parse_object(const std::string& text) {
    boost::system::error_code ec;
    auto value = boost::json::parse(text, ec);
    if (ec || !value.is_object()) return {};
    return value.as_object();
}

/// Every id of every page of `path` fetched `limit` rows at a time; fails the test when a page
/// is not 200, is larger than the limit, or repeats an id.
std::vector<std::string> walk(OrgStack& s, const std::string& path, const std::string& token,
                              int limit, int* pages = nullptr) {
    std::vector<std::string> ids;
    std::set<std::string> seen;
    std::string cursor;
    int count = 0;
    for (;;) {
        std::string target = path + "?limit=" + std::to_string(limit);
        if (!cursor.empty()) target += "&cursor=" + cursor;
        auto page = s.request("GET", target, {}, token);
        EXPECT_EQ(page.status, 200) << target << " " << page.body;
        if (page.status != 200) break;
        auto object = parse_object(page.body);
        const auto& data = object.at("data").as_array();
        EXPECT_LE(data.size(), static_cast<std::size_t>(limit));
        for (const auto& row : data) {
            const auto& row_object = row.as_object();
            std::string id(row_object.contains("id") ? row_object.at("id").as_string()
                                                     : row_object.at("user_id").as_string());
            EXPECT_TRUE(seen.insert(id).second) << "repeated " << id;
            ids.push_back(id);
        }
        ++count;
        if (object.at("next_cursor").is_null()) break;
        cursor = std::string(object.at("next_cursor").as_string());
        EXPECT_FALSE(data.empty());
        if (count > 50) {
            ADD_FAILURE() << "no end of pages";
            break;
        }
    }
    if (pages != nullptr) *pages = count;
    return ids;
}

/// The ids of a single unpaged (default limit) answer.
std::vector<std::string> all(OrgStack& s, const std::string& path, const std::string& token) {
    return walk(s, path, token, 200);
}

class Pagination : public OrgStackTest {};

TEST_F(Pagination, EveryListWalksEachRowOnce) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string bob = s.user("bob@example.com");
    std::string carol = s.user("carol@example.com");
    std::string org = create_org(s, alice, "Paged");
    std::string path = "/api/v1/orgs/" + org;
    std::string other = create_org(s, bob, "Other");

    for (const auto& [email, token] : {std::pair{std::string("bob@example.com"), bob},
                                       std::pair{std::string("carol@example.com"), carol}}) {
        auto invited = s.request("POST", path + "/invitations",
                                 body({{"email", email}, {"role", "viewer"}}), alice);
        ASSERT_EQ(invited.status, 201) << invited.body;
        auto accepted =
            s.request("POST", "/api/v1/invitations/accept",
                      body({{"token", s.mailed_token(email, "accept-invitation")}}), token);
        ASSERT_EQ(accepted.status, 200) << accepted.body;
    }
    for (int i = 0; i < 5; ++i) {
        std::string n = std::to_string(i);
        ASSERT_EQ(
            s.request("POST", path + "/invitations",
                      body({{"email", "pending" + n + "@example.com"}, {"role", "viewer"}}), alice)
                .status,
            201);
        ASSERT_EQ(s.request("POST", path + "/api-keys",
                            body({{"name", "key " + n}, {"permissions", {"org.read"}}}), alice)
                      .status,
                  201);
        ASSERT_EQ(s.request("POST", path + "/roles",
                            body({{"name", "Role " + n}, {"permissions", {"org.read"}}}), alice)
                      .status,
                  201);
        ASSERT_EQ(s.request("POST", path + "/oauth-clients",
                            body({{"name", "App " + n},
                                  {"redirect_uris", {"https://app.example/cb"}},
                                  {"type", "confidential"}}),
                            alice)
                      .status,
                  201);
        // The other org's rows must never show up in this org's pages.
        ASSERT_EQ(s.request("POST", "/api/v1/orgs/" + other + "/api-keys",
                            body({{"name", "theirs " + n}, {"permissions", {"org.read"}}}), bob)
                      .status,
                  201);
    }
    for (int i = 0; i < 4; ++i) s.login("alice@example.com");  // five sessions in all

    struct List {
        std::string path;
        std::size_t rows;
    };
    const std::size_t builtin_roles = all(s, path + "/roles", alice).size() - 5;
    for (const List& list : {List{path + "/members", 3}, List{path + "/invitations", 5},
                             List{path + "/api-keys", 5}, List{path + "/roles", builtin_roles + 5},
                             List{path + "/oauth-clients", 5}, List{"/api/v1/me/sessions", 5}}) {
        SCOPED_TRACE(list.path);
        std::vector<std::string> whole = all(s, list.path, alice);
        EXPECT_EQ(whole.size(), list.rows);
        for (int limit : {1, 2, 3}) {
            int pages = 0;
            std::vector<std::string> walked = walk(s, list.path, alice, limit, &pages);
            // Same rows in the same order as one big page, in ceil(rows / limit) pages.
            EXPECT_EQ(walked, whole) << "limit " << limit;
            EXPECT_EQ(pages, static_cast<int>((list.rows + limit - 1) / limit)) << limit;
        }
    }

    // A cursor of Alice's org used on the other org's list reads that org's rows only.
    auto first = s.request("GET", path + "/api-keys?limit=1", {}, alice);
    std::string cursor(parse_object(first.body).at("next_cursor").as_string());
    auto theirs = s.request("GET", "/api/v1/orgs/" + other + "/api-keys?cursor=" + cursor, {}, bob);
    ASSERT_EQ(theirs.status, 200) << theirs.body;
    auto their_page = parse_object(theirs.body);
    for (const auto& row : their_page.at("data").as_array()) {
        EXPECT_EQ(row.as_object().at("name").as_string().subview().substr(0, 7), "theirs ");
    }
    // And Alice cannot list the other org at all, cursor or not.
    EXPECT_EQ(
        s.request("GET", "/api/v1/orgs/" + other + "/api-keys?cursor=" + cursor, {}, alice).status /
            100,
        4);
}

TEST_F(Pagination, BadCursorsAndLimitsAreRefused) {
    OrgStack& s = *stack_;
    std::string alice = s.user("alice@example.com");
    std::string org = create_org(s, alice, "Refusals");
    std::string path = "/api/v1/orgs/" + org;
    auto members_page = s.request("GET", path + "/members?limit=1", {}, alice);
    ASSERT_EQ(members_page.status, 200);
    // One member: no further page.
    EXPECT_TRUE(parse_object(members_page.body).at("next_cursor").is_null());

    std::string members_cursor = crypto::base64url_encode("members1.1:usr_x");
    struct Case {
        std::string list;
        std::string query;
        std::string parameter;
    };
    std::string before = s.snapshot(org);
    for (const Case& bad : {
             Case{"/members", "cursor=nope", "cursor"},
             Case{"/members", "cursor=%00%01", "cursor"},
             Case{"/members", "cursor=" + std::string(600, 'A'), "cursor"},
             Case{"/members", "cursor=" + crypto::base64url_encode("members1.no-colon"), "cursor"},
             Case{"/members", "cursor=" + crypto::base64url_encode("members1.-5:usr"), "cursor"},
             Case{"/members", "cursor=" + crypto::base64url_encode("members1.\x01:a"), "cursor"},
             Case{"/api-keys", "cursor=" + members_cursor, "cursor"},  // another list's cursor
             Case{"/roles", "cursor=" + crypto::base64url_encode("roles1.b:nobody"), "cursor"},
             Case{"/roles", "cursor=" + crypto::base64url_encode("roles1.x:y"), "cursor"},
             Case{"/invitations", "limit=0", "limit"},
             Case{"/oauth-clients", "limit=201", "limit"},
             Case{"/api-keys", "limit=ten", "limit"},
         }) {
        auto answer = s.request("GET", path + bad.list + "?" + bad.query, {}, alice);
        SCOPED_TRACE(bad.list + "?" + bad.query.substr(0, 60));
        EXPECT_EQ(answer.status, 400) << answer.body;
        EXPECT_NE(answer.header("content-type").value_or("").find("application/problem+json"),
                  std::string::npos);
        EXPECT_NE(answer.body.find("\"parameter\":\"" + bad.parameter + "\""), std::string::npos)
            << answer.body;
    }
    auto sessions = s.request("GET", "/api/v1/me/sessions?cursor=nope", {}, alice);
    EXPECT_EQ(sessions.status, 400) << sessions.body;
    EXPECT_EQ(s.snapshot(org), before);
    // The known good cursor shape is accepted by its own list.
    EXPECT_EQ(s.request("GET", path + "/members?cursor=" + members_cursor, {}, alice).status, 200);
}

}  // namespace
}  // namespace nimbus::test
