//! The full-screen client: puts the terminal in raw mode on the alternate
//! screen, runs the UI loop (terminal events, network events and signals
//! arrive on one channel, so the UI never waits on the network), maps keys
//! to state changes, and restores the terminal on every way out: normal
//! exit, error, panic (a panic hook) and Ctrl-C or SIGTERM/SIGHUP.

use std::io::{self, Stdout, stdout};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{
    self, DisableBracketedPaste, EnableBracketedPaste, Event, KeyCode, KeyEvent, KeyEventKind,
    KeyModifiers,
};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::layout::Rect;

use crate::client::event::ClientEvent;
use crate::client::net::NetHandle;
use crate::client::request::Request;
use crate::client::state::ChatState;
use crate::client::view;

/// How long to wait for the network side to finish after a quit.
const QUIT_GRACE: Duration = Duration::from_secs(6);

/// Everything the UI loop reacts to.
#[derive(Debug)]
pub enum UiInput {
    /// From the network side.
    Net(ClientEvent),
    /// From the terminal.
    Term(Event),
    /// SIGTERM, SIGHUP or SIGINT.
    Signal,
    /// The terminal could not be read any more.
    TermGone,
}

impl From<ClientEvent> for UiInput {
    fn from(e: ClientEvent) -> Self {
        UiInput::Net(e)
    }
}

/// Puts the terminal back as it was (idempotent; errors are ignored since
/// nothing better can be done on the way out).
fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        stdout(),
        DisableBracketedPaste,
        LeaveAlternateScreen,
        ratatui::crossterm::cursor::Show
    );
}

/// Restores the terminal when dropped, including while unwinding.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Makes a panic restore the terminal before the message is printed.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
}

fn enter_terminal() -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
    install_panic_hook();
    enable_raw_mode()?;
    let guard = TerminalGuard;
    execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((guard, terminal))
}

/// Forwards terminal events to the UI loop.
fn spawn_terminal_reader(tx: Sender<UiInput>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("stxchat-term".into())
        .spawn(move || {
            loop {
                match event::read() {
                    Ok(ev) => {
                        if tx.send(UiInput::Term(ev)).is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        let _ = tx.send(UiInput::TermGone);
                        return;
                    }
                }
            }
        })?;
    Ok(())
}

/// Forwards SIGTERM, SIGHUP and SIGINT to the UI loop.
fn spawn_signal_forwarder(tx: Sender<UiInput>) -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP, SIGINT])?;
    std::thread::Builder::new()
        .name("stxchat-signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if tx.send(UiInput::Signal).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}

/// What a key asks the loop to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAction {
    /// Nothing beyond the state change already made.
    None,
    /// Send this request.
    Send(Request),
    /// Quit.
    Quit,
    /// Redraw everything.
    Redraw,
}

/// Applies one key press to the state; `pane` is the message pane's area
/// (for paging and scroll limits).
pub fn handle_key(state: &mut ChatState, key: KeyEvent, pane: Rect) -> KeyAction {
    if key.kind == KeyEventKind::Release {
        return KeyAction::None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let page = usize::from(pane.height.saturating_sub(1)).max(1);
    match key.code {
        KeyCode::Char('c') if ctrl => return KeyAction::Quit,
        KeyCode::Char('d') if ctrl && state.input.text().is_empty() => return KeyAction::Quit,
        KeyCode::Char('l') if ctrl => return KeyAction::Redraw,
        KeyCode::Char('a') if ctrl => state.input.home(),
        KeyCode::Char('e') if ctrl => state.input.end(),
        KeyCode::Char('u') if ctrl => state.input.kill_to_start(),
        KeyCode::Char('k') if ctrl => state.input.kill_to_end(),
        KeyCode::Char('w') if ctrl => state.input.delete_word(),
        KeyCode::Char('n') if ctrl => state.next_tab(),
        KeyCode::Char('p') if ctrl => state.prev_tab(),
        KeyCode::Char(c @ '1'..='9') if alt => {
            state.select(usize::from(c as u8 - b'1'));
        }
        KeyCode::Char(c) if !ctrl && !alt => state.input.insert(c),
        KeyCode::Enter => {
            return match state.submit() {
                Some(Request::Quit) => KeyAction::Quit,
                Some(r) => KeyAction::Send(r),
                None => KeyAction::None,
            };
        }
        KeyCode::Tab => state.next_tab(),
        KeyCode::BackTab => state.prev_tab(),
        KeyCode::Left if alt => state.prev_tab(),
        KeyCode::Right if alt => state.next_tab(),
        KeyCode::Backspace => state.input.backspace(),
        KeyCode::Delete => state.input.delete(),
        KeyCode::Left => state.input.left(),
        KeyCode::Right => state.input.right(),
        KeyCode::Home => state.input.home(),
        KeyCode::End => state.input.end(),
        KeyCode::Up => state.input.history_up(),
        KeyCode::Down => state.input.history_down(),
        KeyCode::PageUp => {
            let max = view::pane_rows(state.active_tab(), pane.width)
                .saturating_sub(usize::from(pane.height));
            state.scroll_up(page, max);
        }
        KeyCode::PageDown => state.scroll_down(page),
        _ => {}
    }
    KeyAction::None
}

/// Runs the full-screen client until the user quits. `early` are events
/// that arrived before the screen was set up; the network side reports on
/// `rx`, which `tx` also feeds (terminal and signal threads).
pub fn run(
    mut state: ChatState,
    early: Vec<ClientEvent>,
    net: &NetHandle,
    tx: Sender<UiInput>,
    rx: &Receiver<UiInput>,
) -> io::Result<()> {
    let (_guard, mut terminal) = enter_terminal()?;
    spawn_terminal_reader(tx.clone())?;
    spawn_signal_forwarder(tx)?;
    for e in &early {
        state.apply(e);
    }
    let mut quit_deadline: Option<Instant> = None;
    let mut pane = Rect::default();
    loop {
        terminal.draw(|f| {
            pane = view::layout(f.area(), &state).pane;
            view::render(f, &state);
        })?;
        let first = match quit_deadline {
            Some(deadline) => {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(i) => i,
                    Err(RecvTimeoutError::Timeout) => return Ok(()),
                    Err(RecvTimeoutError::Disconnected) => return Ok(()),
                }
            }
            None => match rx.recv() {
                Ok(i) => i,
                Err(_) => return Ok(()),
            },
        };
        // Handle everything already waiting before drawing again.
        let mut next = Some(first);
        while let Some(input) = next {
            let quit = match input {
                UiInput::Net(event) => {
                    state.apply(&event);
                    if event.is_final() && state.quitting {
                        return Ok(());
                    }
                    false
                }
                UiInput::Term(Event::Key(key)) => match handle_key(&mut state, key, pane) {
                    KeyAction::None => false,
                    KeyAction::Send(r) => {
                        if net.send(r).is_err() {
                            state.error("the network side has stopped; not sent");
                        }
                        false
                    }
                    KeyAction::Quit => true,
                    KeyAction::Redraw => {
                        terminal.clear()?;
                        false
                    }
                },
                UiInput::Term(Event::Paste(text)) => {
                    state.input.insert_str(&text);
                    false
                }
                UiInput::Term(_) => false,
                UiInput::Signal | UiInput::TermGone => true,
            };
            if quit && quit_deadline.is_none() {
                state.quitting = true;
                if state.net_ended || net.send(Request::Quit).is_err() {
                    return Ok(());
                }
                state.notice("leaving…");
                quit_deadline = Some(Instant::now() + QUIT_GRACE);
            }
            next = rx.try_recv().ok();
        }
    }
}
