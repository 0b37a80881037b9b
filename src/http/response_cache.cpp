// The response cache: opt-in per route (RouteOptions::cache_ttl), bounded by bytes, least
// recently used entries go first.
#include <list>
#include <map>
#include <mutex>

#include "core/crypto.hpp"
#include "http/internal.hpp"

namespace nimbus::http {
namespace {

constexpr std::size_t kEtagHexChars = 32;
// Key parts are joined with separators below any path character, so a path's entries form one
// contiguous range of the ordered map: [path + kQueryMark, path + kAfterQueryMark).
constexpr char kQueryMark = '\x01';
constexpr char kCallerMark = '\x02';
constexpr char kAfterQueryMark = '\x03';

std::string caller_of(const RequestContext& context) {
    if (!context.principal) return "anonymous";
    return context.principal->id + "@" + context.principal->org_id;
}

std::string etag_of(std::string_view body) {
    return "\"" + crypto::sha256_hex(body).substr(0, kEtagHexChars) + "\"";
}

bool is_write(Method method) {
    return method == Method::post || method == Method::put || method == Method::patch ||
           method == Method::delete_;
}

}  // namespace

struct ResponseCacheStep::Entry {
    Response response;
    std::string etag;
    std::chrono::steady_clock::time_point expires;
    std::size_t bytes = 0;
    std::list<std::string>::iterator recency;
};

struct ResponseCacheStep::Store {
    std::mutex mutex;
    std::map<std::string, Entry> entries;
    std::list<std::string> recency;  // front: most recently used
    std::size_t bytes = 0;

    void erase(std::map<std::string, Entry>::iterator it) {
        bytes -= it->second.bytes;
        recency.erase(it->second.recency);
        entries.erase(it);
    }

    void erase_range(const std::string& from, const std::string& to) {
        for (auto it = entries.lower_bound(from); it != entries.end() && it->first < to;) {
            erase(it++);
        }
    }
};

ResponseCacheStep::ResponseCacheStep(std::size_t max_bytes,
                                     std::function<void(const std::string&)> on_local_write)
    : max_bytes_(max_bytes),
      on_local_write_(std::move(on_local_write)),
      store_(std::make_unique<Store>()) {}

ResponseCacheStep::~ResponseCacheStep() = default;

std::optional<Response> ResponseCacheStep::on_request(Request& request, RequestContext& context) {
    const Route* route = context.matched;
    if (route == nullptr || route->options.cache_ttl.count() <= 0) return std::nullopt;
    if (request.method != Method::get && request.method != Method::head) return std::nullopt;
    std::string key = request.path + kQueryMark + request.query + kCallerMark + caller_of(context);
    std::lock_guard lock(store_->mutex);
    auto it = store_->entries.find(key);
    if (it == store_->entries.end()) return std::nullopt;
    if (std::chrono::steady_clock::now() >= it->second.expires) {
        store_->erase(it);
        return std::nullopt;
    }
    store_->recency.splice(store_->recency.begin(), store_->recency, it->second.recency);
    if (request.header("if-none-match") == it->second.etag) {
        Response not_modified;
        not_modified.status = 304;
        not_modified.set_header("etag", it->second.etag);
        return not_modified;
    }
    Response hit = it->second.response;
    hit.set_header("x-cache", "hit");
    return hit;
}

void ResponseCacheStep::on_response(const Request& request, RequestContext& context,
                                    Response& response) {
    if (is_write(request.method) && response.status >= 200 && response.status < 300) {
        invalidate(request.path);
        if (on_local_write_) on_local_write_(request.path);
        return;
    }
    const Route* route = context.matched;
    if (route == nullptr || route->options.cache_ttl.count() <= 0 || response.status != 200 ||
        request.method != Method::get || response.header("x-cache")) {
        return;
    }
    std::string etag = etag_of(response.body_view());
    response.set_header("etag", etag);
    Entry entry;
    entry.response = response;
    entry.etag = etag;
    entry.expires = std::chrono::steady_clock::now() + route->options.cache_ttl;
    std::string key = request.path + kQueryMark + request.query + kCallerMark + caller_of(context);
    entry.bytes = key.size() + response.body_view().size() + sizeof(Entry);
    for (const auto& header : response.headers)
        entry.bytes += header.name.size() + header.value.size();
    if (request.header("if-none-match") == etag) {
        response.status = 304;
        response.body.clear();
        response.shared_body.reset();
    }
    if (entry.bytes > max_bytes_) return;
    std::lock_guard lock(store_->mutex);
    if (auto existing = store_->entries.find(key); existing != store_->entries.end()) {
        store_->erase(existing);
    }
    while (store_->bytes + entry.bytes > max_bytes_ && !store_->recency.empty()) {
        store_->erase(store_->entries.find(store_->recency.back()));
    }
    store_->recency.push_front(key);
    entry.recency = store_->recency.begin();
    store_->bytes += entry.bytes;
    store_->entries.emplace(std::move(key), std::move(entry));
}

void ResponseCacheStep::invalidate(const std::string& path) {
    std::lock_guard lock(store_->mutex);
    // The resource itself and everything below it ("/orgs/o1" and "/orgs/o1/members/...").
    store_->erase_range(path + kQueryMark, path + kAfterQueryMark);
    store_->erase_range(path + "/", path + "0");  // '0' follows '/' in ASCII
    // Its collection: a new or deleted member changes the list.
    std::size_t slash = path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
        std::string parent = path.substr(0, slash);
        store_->erase_range(parent + kQueryMark, parent + kAfterQueryMark);
    }
}

std::size_t ResponseCacheStep::bytes() const {
    std::lock_guard lock(store_->mutex);
    return store_->bytes;
}

}  // namespace nimbus::http
