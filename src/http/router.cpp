// Method + path-template routing over a trie of path segments.
#include <algorithm>
#include <array>
#include <map>
#include <stdexcept>

#include "http/http.hpp"
#include "http/internal.hpp"

namespace nimbus::http {
namespace {

constexpr std::size_t kMethodCount = 7;

std::size_t method_index(Method method) { return static_cast<std::size_t>(method); }

/// Splits "/a/b/" into {"a", "b", ""}: a trailing slash is a distinct (empty) segment, so
/// "/orgs/" does not silently match "/orgs".
std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> segments;
    if (path.empty() || path.front() != '/') return segments;
    std::size_t start = 1;
    while (true) {
        std::size_t slash = path.find('/', start);
        segments.push_back(path.substr(
            start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    if (segments.size() == 1 && segments[0].empty()) segments.clear();  // "/" is the root
    return segments;
}

/// A path schema describes the template's parameters: a property naming one the template lacks
/// is a typo that would check nothing, so it stops the start.
void check_path_schema(const Route& route, const std::vector<std::string>& param_names) {
    const boost::json::value* schema = schema_json(route.schemas.get(), SchemaKind::path);
    if (schema == nullptr) return;
    const auto* object = schema->if_object();
    const auto* properties = object ? object->if_contains("properties") : nullptr;
    if (properties == nullptr || !properties->is_object()) {
        throw std::invalid_argument("path schema must be an object schema with properties: " +
                                    route.path_template);
    }
    for (const auto& [name, property] : properties->as_object()) {
        if (std::find(param_names.begin(), param_names.end(), name) == param_names.end()) {
            throw std::invalid_argument("path schema names '" + std::string(name) +
                                        "', which the template lacks: " + route.path_template);
        }
    }
}

}  // namespace

struct Router::Node {
    std::map<std::string, std::unique_ptr<Node>, std::less<>> literal_children;
    std::unique_ptr<Node> param_child;
    std::string param_name;
    std::array<const Route*, kMethodCount> routes{};
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::add(Method method, std::string_view path_template, Task handler,
                 RouteOptions options) {
    insert(std::make_unique<Route>(
        Route{method, std::string(path_template), std::move(handler), std::move(options)}));
}

void Router::add(Method method, std::string_view path_template, SyncHandler handler,
                 RouteOptions options) {
    insert(std::make_unique<Route>(
        Route{method, std::string(path_template), std::move(handler), std::move(options)}));
}

void Router::insert(std::unique_ptr<Route> route) {
    route->schemas = compile_schemas(route->options);
    const std::string& path_template = route->path_template;
    if (path_template.empty() || path_template.front() != '/') {
        throw std::invalid_argument("route template must start with '/': " + path_template);
    }
    Node* node = root_.get();
    std::vector<std::string> param_names;
    for (std::string_view segment : split_path(path_template)) {
        if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
            std::string name(segment.substr(1, segment.size() - 2));
            if (name.empty() || name.find_first_of("{}/") != std::string::npos) {
                throw std::invalid_argument("malformed parameter in route template: " +
                                            path_template);
            }
            param_names.push_back(name);
            if (!node->param_child) {
                node->param_child = std::make_unique<Node>();
                node->param_child->param_name = name;
            } else if (node->param_child->param_name != name) {
                throw std::invalid_argument("conflicting parameter names at the same position: " +
                                            path_template);
            }
            node = node->param_child.get();
        } else {
            if (segment.find_first_of("{}") != std::string_view::npos) {
                throw std::invalid_argument("braces must enclose a whole segment: " +
                                            path_template);
            }
            auto& child = node->literal_children[std::string(segment)];
            if (!child) child = std::make_unique<Node>();
            node = child.get();
        }
    }
    check_path_schema(*route, param_names);
    const Route*& slot = node->routes[method_index(route->method)];
    if (slot != nullptr) {
        throw std::invalid_argument("duplicate route: " + std::string(to_string(route->method)) +
                                    " " + path_template);
    }
    slot = route.get();
    routes_.push_back(std::move(route));
}

Match Router::match(Method method, std::string_view path) const {
    Match result;
    if (path.empty() || path.front() != '/') return result;
    std::vector<std::string_view> segments = split_path(path);

    // Depth-first: literal children first, then the parameter child, so "/orgs/new" beats
    // "/orgs/{id}" while both stay reachable.
    std::vector<std::pair<std::string, std::string>> params;
    const Node* found = nullptr;
    auto walk = [&](auto& self, const Node* node, std::size_t depth) -> bool {
        if (depth == segments.size()) {
            for (const Route* route : node->routes) {
                if (route != nullptr) {
                    found = node;
                    return true;
                }
            }
            return false;
        }
        std::string_view segment = segments[depth];
        auto literal = node->literal_children.find(segment);
        if (literal != node->literal_children.end() && self(self, literal->second.get(), depth + 1))
            return true;
        if (node->param_child && !segment.empty()) {
            params.emplace_back(node->param_child->param_name, std::string(segment));
            if (self(self, node->param_child.get(), depth + 1)) return true;
            params.pop_back();
        }
        return false;
    };
    if (!walk(walk, root_.get(), 0)) return result;

    const Route* route = found->routes[method_index(method)];
    if (route == nullptr && method == Method::head)
        route = found->routes[method_index(Method::get)];
    if (route != nullptr) {
        result.route = route;
        result.path_params = std::move(params);
        return result;
    }
    for (std::size_t idx = 0; idx < kMethodCount; ++idx) {
        if (found->routes[idx] != nullptr) result.allowed.push_back(static_cast<Method>(idx));
    }
    if (found->routes[method_index(Method::get)] != nullptr &&
        found->routes[method_index(Method::head)] == nullptr) {
        result.allowed.push_back(Method::head);
    }
    return result;
}

}  // namespace nimbus::http
