//! Quiet rooms for IRC users (PROTOCOL.md section 5; docs/IRC.md): IRC
//! sessions register with protocol version 2, so the engine sends them ROOM
//! summaries. They see no JOIN/PART/QUIT storms (the engine sends none), the
//! partial list in NAMES with the member count in 366, one NOTICE when they
//! join a quiet room and one when a room they are in turns quiet or back to
//! normal. The once-a-second count updates are not shown (they would be a
//! storm of their own).

use crate::codec::{ROOM_QUIET, names_equal};
use crate::irc::names::channel_of;
use crate::irc::reply::line;
use crate::irc::session::IrcSession;

impl IrcSession {
    /// A ROOM summary: kept for the pending JOIN or NAMES reply of that room,
    /// else a transition (or an unchanged count, not shown).
    pub(crate) fn on_room_summary(
        &mut self,
        room: &str,
        flags: u8,
        members: u32,
        out: &mut Vec<u8>,
    ) {
        let quiet = flags & ROOM_QUIET != 0;
        if self.note_pending_count(room, quiet.then_some(members)) {
            return;
        }
        let known = self.quiet.iter().position(|r| names_equal(r, room));
        let chan = channel_of(room);
        let text = match (quiet, known) {
            (true, None) => {
                self.quiet.push(room.to_owned());
                format!(
                    "{chan} is now a quiet room ({members} members): joins and parts are no longer shown, NAMES lists part of it"
                )
            }
            (false, Some(i)) => {
                self.quiet.swap_remove(i);
                format!(
                    "{chan} is no longer a quiet room ({members} members): joins and parts are shown again"
                )
            }
            _ => return,
        };
        self.server_notice(out, &chan, &text);
    }

    /// After the JOIN reply of `room` (366 sent): remembers whether it is
    /// quiet and, if so, tells the user once.
    pub(crate) fn joined_quiet_state(&mut self, room: &str, count: Option<u32>, out: &mut Vec<u8>) {
        self.quiet.retain(|r| !names_equal(r, room));
        if let Some(n) = count {
            self.quiet.push(room.to_owned());
            let chan = channel_of(room);
            let text = format!(
                "{chan} is a quiet room ({n} members): joins and parts are not shown, NAMES lists part of it"
            );
            self.server_notice(out, &chan, &text);
        }
    }

    /// The user left `room` (part, kick): forget it.
    pub(crate) fn left_room(&mut self, room: &str) {
        self.joined.retain(|r| !names_equal(r, room));
        self.quiet.retain(|r| !names_equal(r, room));
    }

    fn server_notice(&self, out: &mut Vec<u8>, target: &str, text: &str) {
        line(
            out,
            None,
            &self.cfg.server_name,
            "NOTICE",
            &[target, text],
            true,
        );
    }
}

/// The 366 text: with the member count when the list was partial.
pub(crate) fn end_of_names(count: Option<u32>) -> String {
    match count {
        Some(n) => format!("End of /NAMES list (quiet room of {n} members: partial list)"),
        None => "End of /NAMES list".to_owned(),
    }
}
