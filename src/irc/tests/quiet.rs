//! Quiet rooms as IRC users see them (`src/irc/quiet.rs`): no presence
//! storms, the partial NAMES with the count in 366, one NOTICE on joining a
//! quiet room and one per transition, count updates not shown.

use super::*;

/// The JOIN lines `lines` holds.
fn joins(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| command_of(l) == "JOIN").collect()
}

#[test]
fn irc_users_see_no_presence_storms_in_quiet_rooms_and_get_counts_and_transitions() {
    // Quiet above 4 members, normal again at 2 or fewer.
    let mut h = Hub::with(|c| c.presence_limit = 4);
    let a = h.register("alice");
    h.send(a, "JOIN #big");
    h.lines(a);
    let natives: Vec<ConnId> = (1..=4).map(|i| h.native(&format!("n{i}"))).collect();
    for (i, &n) in natives.iter().enumerate() {
        h.native_send(n, ClientMessage::Join { room: "big" });
        let l = h.lines(a);
        if i < 3 {
            assert_eq!(l, [format!(":n{}!n{}@stxchat JOIN #big", i + 1, i + 1)]);
        } else {
            // The fifth member makes the room quiet: no JOIN, one NOTICE.
            assert_eq!(
                l,
                [
                    ":irc.test NOTICE #big :#big is now a quiet room (5 members): joins and parts are no longer shown, NAMES lists part of it"
                ]
            );
        }
    }
    // Another IRC user joins: the partial list, the count, one NOTICE.
    let b = h.register("bob");
    h.send(b, "JOIN #big");
    let l = h.lines(b);
    assert_eq!(l[0], ":bob!bob@stxchat JOIN #big");
    assert!(command_of(&l[1]) == "353", "{l:?}");
    assert_eq!(
        l[2],
        ":irc.test 366 bob #big :End of /NAMES list (quiet room of 6 members: partial list)"
    );
    assert_eq!(
        l[3],
        ":irc.test NOTICE #big :#big is a quiet room (6 members): joins and parts are not shown, NAMES lists part of it"
    );
    assert_eq!(l.len(), 4, "{l:?}");
    assert!(h.lines(a).is_empty(), "no JOIN of bob for alice");
    // The once-a-second count is not shown.
    h.now.mono_ms += 1_500;
    h.now.unix_ms += 1_500;
    h.e.tick(h.now);
    assert!(h.lines(a).is_empty());
    assert!(h.lines(b).is_empty());
    // NAMES: the partial list and the count.
    h.send(a, "NAMES #big");
    let l = h.lines(a);
    assert_eq!(
        l.last().unwrap(),
        ":irc.test 366 alice #big :End of /NAMES list (quiet room of 6 members: partial list)"
    );
    // Departures are not announced: parts, a quit, an IRC user's PART.
    h.native_send(natives[1], ClientMessage::Part { room: "big" });
    h.native_send(natives[2], ClientMessage::Bye);
    h.send(b, "PART #big :bye");
    assert_eq!(h.lines(b), [":bob!bob@stxchat PART #big :bye"]);
    assert!(h.lines(a).is_empty());
    // Down to 2 members: the room is normal again, said once.
    h.native_send(natives[3], ClientMessage::Part { room: "big" });
    let l = h.lines(a);
    assert!(joins(&l).is_empty(), "{l:?}");
    assert_eq!(
        l.last().unwrap(),
        ":irc.test NOTICE #big :#big is no longer a quiet room (2 members): joins and parts are shown again"
    );
    // From then on joins are shown again.
    let n5 = h.native("n5");
    h.native_send(n5, ClientMessage::Join { room: "big" });
    assert_eq!(h.lines(a), [":n5!n5@stxchat JOIN #big"]);
}
