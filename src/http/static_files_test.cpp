#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "http/http.hpp"

namespace nimbus::http {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kIndexHtml = "<!doctype html><title>Nimbus console</title>";

/// A built console in a fresh temporary directory, removed when the test ends.
class StaticFilesTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "nimbus-static-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        dir_ = pattern;
        write("index.html", std::string(kIndexHtml));
        write("assets/app-3f9a1c.js", large_script_);
        write("assets/logo-77aa.png", std::string(2048, '\x01'));
        write("favicon.ico", "icon");
    }

    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }

    void write(const std::string& relative, const std::string& content) {
        fs::path path = dir_ / relative;
        fs::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary) << content;
    }

    static Request get(std::string path, std::vector<Header> headers = {}) {
        Request request;
        request.path = path;
        request.target = std::move(path);
        request.headers = std::move(headers);
        return request;
    }

    fs::path dir_;
    // Large and repetitive, so a gzip copy is worth keeping.
    std::string large_script_ = [] {
        std::string script;
        for (int line = 0; line < 200; ++line) script += "console.log('nimbus console line');\n";
        return script;
    }();
};

TEST_F(StaticFilesTest, LoadsEveryFile) {
    EXPECT_EQ(StaticFiles::load(dir_.string())->file_count(), 4U);
}

TEST_F(StaticFilesTest, HashedAssetsAreImmutable) {
    auto files = StaticFiles::load(dir_.string());

    Response response = files->serve(get("/assets/app-3f9a1c.js"));

    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("cache-control"), "public, max-age=31536000, immutable");
    EXPECT_EQ(response.header("content-type"), "application/javascript; charset=utf-8");
    EXPECT_EQ(response.body_view(), large_script_);
    EXPECT_FALSE(response.header("content-encoding")) << "not asked for gzip";
}

TEST_F(StaticFilesTest, IndexHtmlMustBeRevalidated) {
    auto files = StaticFiles::load(dir_.string());

    for (std::string path : {"/", "/index.html"}) {
        Response response = files->serve(get(path));
        EXPECT_EQ(response.status, 200) << path;
        EXPECT_EQ(response.header("cache-control"), "no-cache") << path;
        EXPECT_EQ(response.header("content-type"), "text/html; charset=utf-8") << path;
        EXPECT_EQ(response.body_view(), kIndexHtml) << path;
    }
}

TEST_F(StaticFilesTest, ClientRoutesFallBackToIndexHtml) {
    auto files = StaticFiles::load(dir_.string());

    for (std::string path : {"/system", "/orgs/org_1/members", "/settings/"}) {
        Response response = files->serve(get(path));
        EXPECT_EQ(response.status, 200) << path;
        EXPECT_EQ(response.body_view(), kIndexHtml) << path;
        EXPECT_EQ(response.header("cache-control"), "no-cache") << path;
    }
}

TEST_F(StaticFilesTest, MissingAssetIsA404ProblemNotHtml) {
    auto files = StaticFiles::load(dir_.string());

    for (std::string path :
         {"/assets/app-old.js", "/assets/gone", "/robots.txt", "/nested/dir/file.css"}) {
        Response response = files->serve(get(path));
        EXPECT_EQ(response.status, 404) << path;
        ASSERT_TRUE(response.problem) << path;
        EXPECT_EQ(response.problem->type, "/problems/not-found");
        EXPECT_NE(response.body_view(), kIndexHtml) << path;
    }
}

TEST_F(StaticFilesTest, EtagAndIfNoneMatchGive304) {
    auto files = StaticFiles::load(dir_.string());

    Response first = files->serve(get("/favicon.ico"));
    auto etag = first.header("etag");
    ASSERT_TRUE(etag);
    EXPECT_TRUE(etag->starts_with("\"") && etag->ends_with("\"")) << *etag;

    Response again = files->serve(get("/favicon.ico", {{"if-none-match", std::string(*etag)}}));
    EXPECT_EQ(again.status, 304);
    EXPECT_TRUE(again.body_view().empty());
    EXPECT_EQ(again.header("etag"), *etag);
    EXPECT_TRUE(again.header("cache-control"));

    Response stale = files->serve(get("/favicon.ico", {{"if-none-match", "\"other\""}}));
    EXPECT_EQ(stale.status, 200);
    EXPECT_EQ(stale.body_view(), "icon");
}

TEST_F(StaticFilesTest, EtagChangesWithContent) {
    std::string before(
        *StaticFiles::load(dir_.string())->serve(get("/favicon.ico")).header("etag"));
    write("favicon.ico", "new icon");
    std::string after(*StaticFiles::load(dir_.string())->serve(get("/favicon.ico")).header("etag"));

    EXPECT_NE(before, after);
}

TEST_F(StaticFilesTest, ServesTheGzipCopyWhenAccepted) {
    auto files = StaticFiles::load(dir_.string());

    Response gzipped = files->serve(get("/assets/app-3f9a1c.js", {{"accept-encoding", "gzip"}}));
    EXPECT_EQ(gzipped.status, 200);
    EXPECT_EQ(gzipped.header("content-encoding"), "gzip");
    EXPECT_EQ(gzipped.header("vary"), "Accept-Encoding");
    EXPECT_LT(gzipped.body_view().size(), large_script_.size());
    EXPECT_TRUE(gzipped.body_view().starts_with("\x1f\x8b")) << "gzip magic";

    Response refused =
        files->serve(get("/assets/app-3f9a1c.js", {{"accept-encoding", "gzip;q=0"}}));
    EXPECT_FALSE(refused.header("content-encoding"));
    EXPECT_EQ(refused.body_view(), large_script_);
}

TEST_F(StaticFilesTest, BinaryFilesAreNeverGzipped) {
    auto files = StaticFiles::load(dir_.string());

    Response response = files->serve(get("/assets/logo-77aa.png", {{"accept-encoding", "gzip"}}));

    EXPECT_EQ(response.header("content-type"), "image/png");
    EXPECT_FALSE(response.header("content-encoding"));
    EXPECT_EQ(response.body_view().size(), 2048U);
}

TEST_F(StaticFilesTest, PathTraversalDoesNotEscapeTheDirectory) {
    std::string outside = dir_.filename().string() + "-secret.txt";
    write("../" + outside, "secret");
    auto files = StaticFiles::load(dir_.string());

    Response response = files->serve(get("/../" + outside));
    fs::remove(dir_.parent_path() / outside);

    EXPECT_NE(response.status, 200);
    EXPECT_EQ(std::string(response.body_view()).find("secret"), std::string::npos);
}

TEST(StaticFiles, MissingDirectoryShowsTheConsoleNotBuiltPage) {
    auto files = StaticFiles::load("/nonexistent/nimbus/web/dist");
    EXPECT_EQ(files->file_count(), 0U);

    Request request;
    request.path = "/";
    Response response = files->serve(request);

    EXPECT_EQ(response.status, 200);
    EXPECT_EQ(response.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(response.header("cache-control"), "no-cache");
    EXPECT_NE(response.body_view().find("console has not been built"), std::string_view::npos);
    EXPECT_NE(response.body_view().find("npm run build"), std::string_view::npos);

    request.path = "/orgs/org_1";
    EXPECT_NE(files->serve(request).body_view().find("console has not been built"),
              std::string_view::npos)
        << "client routes show it too";
}

TEST(StaticFiles, EmptyDirectoryNameIsTheSameAsMissing) {
    EXPECT_EQ(StaticFiles::load("")->file_count(), 0U);
}

}  // namespace
}  // namespace nimbus::http
