#pragma once
// Shared by the http unit tests: building a request from a target and running it through a
// router and a pipeline on a private event loop, as the server would on an I/O thread.

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "http/http.hpp"

namespace nimbus::http::testing {

/// A request for `target` ("/path?query") with the given headers and body.
inline Request make_request(Method method, const std::string& target,
                            std::vector<Header> headers = {}, std::string body = {}) {
    Request request;
    request.method = method;
    request.target = target;
    std::size_t question = target.find('?');
    request.path = target.substr(0, question);
    if (question != std::string::npos) request.query = target.substr(question + 1);
    request.headers = std::move(headers);
    request.body = std::move(body);
    return request;
}

/// Matches `request` in `router` and runs it through `pipeline` as `principal`.
inline Response dispatch(Pipeline& pipeline, const Router& router, Request request,
                         std::optional<Principal> principal = {}) {
    Match match = router.match(request.method, request.path);
    RequestContext context;
    context.principal = std::move(principal);
    // As the server does: steps read the matched route's parameters from the context.
    context.path_params = std::move(match.path_params);
    boost::asio::io_context io;
    std::optional<Response> result;
    boost::asio::co_spawn(
        io, pipeline.run(request, context, match.route, nullptr),
        [&](std::exception_ptr, Response response) { result = std::move(response); });
    io.run();
    return std::move(*result);
}

}  // namespace nimbus::http::testing
