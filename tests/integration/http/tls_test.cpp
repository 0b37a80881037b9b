// HTTPS: TLS 1.3 by default, 1.2 only when allowed, certificate reload without dropping
// connections, a bad certificate on reload keeps the old one.
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "test_server.hpp"

namespace nimbus::test {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

/// A directory with self-signed P-256 certificates made by the openssl command line.
class Certificates {
public:
    Certificates() {
        std::string pattern = (fs::temp_directory_path() / "nimbus-tls-XXXXXX").string();
        dir_ = ::mkdtemp(pattern.data());
    }
    ~Certificates() { fs::remove_all(dir_); }

    /// Writes NAME.crt and NAME.key for CN=`common_name`.
    void make(const std::string& name, const std::string& common_name) {
        std::string command =
            "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
            "-subj /CN=" +
            common_name + " -keyout " + key(name).string() + " -out " + cert(name).string() +
            " 2>/dev/null";
        ASSERT_EQ(std::system(command.c_str()), 0) << command;
    }
    fs::path cert(const std::string& name) const { return dir_ / (name + ".crt"); }
    fs::path key(const std::string& name) const { return dir_ / (name + ".key"); }

private:
    fs::path dir_;
};

/// A blocking TLS client on one connection.
class TlsClient {
public:
    TlsClient(std::uint16_t port, int max_version = 0)
        : context_(ssl::context::tls_client), stream_(io_, context_) {
        context_.set_verify_mode(ssl::verify_none);  // self-signed; the test checks the CN itself
        if (max_version != 0) SSL_set_max_proto_version(stream_.native_handle(), max_version);
        stream_.next_layer().connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }

    boost::system::error_code handshake() {
        boost::system::error_code ec;
        stream_.handshake(ssl::stream_base::client, ec);
        return ec;
    }

    /// Sends a GET and returns the raw response head and body (the server answers with a
    /// Content-Length, read exactly).
    std::string get(const std::string& target) {
        std::string request = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
        asio::write(stream_, asio::buffer(request));
        asio::streambuf buffer;
        asio::read_until(stream_, buffer, "\r\n\r\n");
        std::string data(asio::buffers_begin(buffer.data()), asio::buffers_end(buffer.data()));
        std::size_t head_end = data.find("\r\n\r\n") + 4;
        std::size_t length_at = data.find("content-length: ");
        std::size_t length = std::stoul(data.substr(length_at + 16));
        while (data.size() < head_end + length) {
            char chunk[4096];
            std::size_t n = stream_.read_some(asio::buffer(chunk));
            data.append(chunk, n);
        }
        return data.substr(0, head_end + length);
    }

    int version() { return SSL_version(stream_.native_handle()); }

    std::string peer_common_name() {
        X509* certificate = SSL_get1_peer_certificate(stream_.native_handle());
        if (certificate == nullptr) return "";
        char name[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(certificate), NID_commonName, name,
                                  sizeof(name));
        X509_free(certificate);
        return name;
    }

private:
    asio::io_context io_;
    ssl::context context_;
    ssl::stream<tcp::socket> stream_;
};

http::ServerOptions tls_options(const Certificates& certificates, bool allow_tls12 = false) {
    http::ServerOptions options = fast_options();
    options.tls = http::ServerOptions::TlsOptions{certificates.cert("first").string(),
                                                  certificates.key("first").string(), allow_tls12};
    return options;
}

TEST(Tls, ServesHttpsOverTls13) {
    Certificates certificates;
    certificates.make("first", "first.nimbus.test");
    TestServer server(tls_options(certificates));
    TlsClient client(server.port());
    ASSERT_FALSE(client.handshake());
    EXPECT_EQ(client.version(), TLS1_3_VERSION);
    EXPECT_EQ(client.peer_common_name(), "first.nimbus.test");
    std::string response = client.get("/hello");
    EXPECT_TRUE(response.starts_with("HTTP/1.1 200 OK")) << response;
    EXPECT_TRUE(response.ends_with("hello")) << response;
}

TEST(Tls, Tls12IsRefusedUnlessAllowed) {
    Certificates certificates;
    certificates.make("first", "first.nimbus.test");
    {
        TestServer strict(tls_options(certificates));
        TlsClient old_client(strict.port(), TLS1_2_VERSION);
        EXPECT_TRUE(old_client.handshake());
    }
    TestServer lenient(tls_options(certificates, /*allow_tls12=*/true));
    TlsClient old_client(lenient.port(), TLS1_2_VERSION);
    ASSERT_FALSE(old_client.handshake());
    EXPECT_EQ(old_client.version(), TLS1_2_VERSION);
    EXPECT_TRUE(old_client.get("/hello").starts_with("HTTP/1.1 200"));
}

TEST(Tls, ReloadServesTheNewCertificateWithoutDroppingOpenConnections) {
    Certificates certificates;
    certificates.make("first", "first.nimbus.test");
    certificates.make("second", "second.nimbus.test");
    TestServer server(tls_options(certificates));
    TlsClient before(server.port());
    ASSERT_FALSE(before.handshake());
    ASSERT_TRUE(before.get("/hello").starts_with("HTTP/1.1 200"));

    fs::copy_file(certificates.cert("second"), certificates.cert("first"),
                  fs::copy_options::overwrite_existing);
    fs::copy_file(certificates.key("second"), certificates.key("first"),
                  fs::copy_options::overwrite_existing);
    ASSERT_TRUE(server.server().reload_tls());

    TlsClient after(server.port());
    ASSERT_FALSE(after.handshake());
    EXPECT_EQ(after.peer_common_name(), "second.nimbus.test");
    // The connection opened before the reload goes on with its session.
    EXPECT_TRUE(before.get("/hello").starts_with("HTTP/1.1 200"));
}

TEST(Tls, AnInvalidCertificateOnReloadKeepsTheOldOne) {
    Certificates certificates;
    certificates.make("first", "first.nimbus.test");
    TestServer server(tls_options(certificates));
    std::ofstream(certificates.cert("first"), std::ios::trunc)
        << "-----BEGIN CERTIFICATE-----\nnot a certificate\n";
    auto reloaded = server.server().reload_tls();
    ASSERT_FALSE(reloaded);
    EXPECT_NE(reloaded.error().message.find("certificate"), std::string::npos)
        << reloaded.error().message;
    TlsClient client(server.port());
    ASSERT_FALSE(client.handshake());
    EXPECT_EQ(client.peer_common_name(), "first.nimbus.test");
}

TEST(Tls, PlainHttpOnTheTlsPortIsClosedNotServed) {
    Certificates certificates;
    certificates.make("first", "first.nimbus.test");
    TestServer server(tls_options(certificates));
    asio::io_context io;
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), server.port()));
    std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    asio::write(socket, asio::buffer(request));
    std::string received;
    boost::system::error_code ec;
    char chunk[1024];
    while (!ec) {
        std::size_t n = socket.read_some(asio::buffer(chunk), ec);
        received.append(chunk, n);
    }
    EXPECT_EQ(received.find("hello"), std::string::npos);
    // And the server still serves TLS clients.
    TlsClient client(server.port());
    EXPECT_FALSE(client.handshake());
}

}  // namespace
}  // namespace nimbus::test
