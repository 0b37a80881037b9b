// The console's built assets, served from memory.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/crypto.hpp"
#include "core/log.hpp"
#include "http/http.hpp"
#include "http/internal.hpp"

namespace nimbus::http {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
constexpr std::string_view kRevalidate = "no-cache";
constexpr std::string_view kAssetsPrefix = "assets/";
constexpr std::size_t kMinGzipBytes = 1024;
constexpr std::size_t kEtagHexChars = 32;

constexpr std::string_view kNotBuiltPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Nimbus</title></head>
<body><main><h1>Nimbus</h1>
<p>The API is running. The web console has not been built: run <code>make run</code>, or
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code> and restart, or point
<code>console.dir</code> at a built console.</p>
<p><a href="/api/v1/system/info">/api/v1/system/info</a></p></main></body></html>
)";

std::string content_type_for(const fs::path& path) {
    static const std::vector<std::pair<std::string_view, std::string_view>> kTypes = {
        {".html", "text/html; charset=utf-8"},
        {".js", "application/javascript; charset=utf-8"},
        {".mjs", "application/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".ico", "image/x-icon"},
        {".woff2", "font/woff2"},
        {".woff", "font/woff"},
        {".txt", "text/plain; charset=utf-8"},
        {".map", "application/json"},
        {".webmanifest", "application/manifest+json"},
    };
    std::string extension = path.extension().string();
    for (const auto& [ext, type] : kTypes) {
        if (ext == extension) return std::string(type);
    }
    return "application/octet-stream";
}

}  // namespace

struct StaticFiles::File {
    std::shared_ptr<const std::string> content;
    std::shared_ptr<const std::string> gzipped;  // null when not worth it
    std::string content_type;
    std::string etag;
    std::string_view cache_control;
};

std::shared_ptr<StaticFiles> StaticFiles::load(const std::string& dir) {
    auto files = std::make_shared<StaticFiles>();
    std::error_code ec;
    if (dir.empty() || !fs::is_directory(dir, ec)) return files;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_regular_file()) continue;
        std::ifstream in(it->path(), std::ios::binary);
        std::stringstream buffer;
        buffer << in.rdbuf();
        auto file = std::make_shared<File>();
        std::string relative = fs::relative(it->path(), dir).generic_string();
        file->content = std::make_shared<const std::string>(buffer.str());
        file->content_type = content_type_for(it->path());
        file->etag = "\"" + crypto::sha256_hex(*file->content).substr(0, kEtagHexChars) + "\"";
        file->cache_control = relative.starts_with(kAssetsPrefix) ? kImmutable : kRevalidate;
        if (file->content->size() >= kMinGzipBytes && compressible(file->content_type)) {
            if (auto compressed = gzip(*file->content);
                compressed && compressed->size() < file->content->size()) {
                file->gzipped = std::make_shared<const std::string>(std::move(*compressed));
            }
        }
        files->files_.emplace_back(std::move(relative), std::move(file));
    }
    std::sort(files->files_.begin(), files->files_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return files;
}

std::size_t StaticFiles::file_count() const { return files_.size(); }

std::shared_ptr<const StaticFiles::File> StaticFiles::find(std::string_view path) const {
    auto it =
        std::lower_bound(files_.begin(), files_.end(), path,
                         [](const auto& entry, std::string_view key) { return entry.first < key; });
    if (it != files_.end() && it->first == path) return it->second;
    return nullptr;
}

Response StaticFiles::serve(const Request& request) const {
    std::string_view relative = std::string_view(request.path).substr(1);
    std::shared_ptr<const File> file = relative.empty() ? nullptr : find(relative);
    if (!file) {
        // A missing hashed asset must not come back as HTML: the browser would try to run it.
        bool looks_like_asset =
            relative.starts_with(kAssetsPrefix) ||
            relative.substr(relative.rfind('/') + 1).find('.') != std::string_view::npos;
        if (looks_like_asset) {
            return Response::make_problem(404, "not-found", "Not Found", "No such file.");
        }
        file = find("index.html");  // a client-side route
    }
    if (!file) {
        Response response =
            Response::text(200, std::string(kNotBuiltPage), "text/html; charset=utf-8");
        response.set_header("cache-control", kRevalidate);
        return response;
    }
    Response response;
    response.set_header("cache-control", file->cache_control);
    response.set_header("etag", file->etag);
    response.set_header("vary", "Accept-Encoding");
    auto if_none_match = request.header("if-none-match");
    if (if_none_match && *if_none_match == file->etag) {
        response.status = 304;
        return response;
    }
    response.set_header("content-type", file->content_type);
    if (file->gzipped && accepts_gzip(request.header("accept-encoding").value_or(""))) {
        response.shared_body = file->gzipped;
        response.set_header("content-encoding", "gzip");
    } else {
        response.shared_body = file->content;
    }
    return response;
}

}  // namespace nimbus::http
