//! A first end-to-end check: two clients chat through a real server.

mod common;

use common::*;

#[test]
fn two_clients_chat() {
    let srv = TestServer::start(config());
    let mut a = Client::join_as(srv.addr, "alice");
    let mut b = Client::join_as(srv.addr, "bob");
    assert_eq!(a.sync(), vec![joined("lobby", "bob")]);
    b.say("lobby", "hello");
    let got = a.sync();
    assert!(
        matches!(&got[0], Msg::Message { from, text, .. } if from == "bob" && text == "hello"),
        "{got:?}"
    );
    assert_eq!(b.sync().len(), 1, "the sender gets its own MESSAGE");
    b.send(stxchat::codec::ClientMessage::Bye);
    assert_eq!(b.until_eof(), vec![]);
    assert_eq!(a.sync(), vec![left("lobby", "bob", 1)]);
}
