//! `dirsim shell` end to end through the binary: doveadm director command
//! lines on a simulated clock, checked against `director-spec.md` (§3, §4,
//! §5, §7). stdout is a pipe, so tables are 80 columns wide; the clock
//! starts at 2025-01-01 00:00:00 UTC.
//!
//! Ring facts used below (two hosts 10.0.0.1 and 10.0.0.2, 100 vhosts each,
//! checked with an independent python hashlib script): `user0001` (hash
//! 1419941427) hashes to 10.0.0.1; `user0002` (922745041), `alice`, `bob`,
//! `carol` and `dave` hash to 10.0.0.2.

use crate::util::{self, Run};

/// The status title line of `-f tab`.
const TAB_TITLES: &str = "mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n";

/// Joins script lines with newlines (a trailing one too).
fn script(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// Runs a script that must succeed without any stderr output; its stdout.
fn run_ok(lines: &[&str]) -> String {
    let run = util::shell(&script(lines));
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    assert_eq!(run.stderr, "");
    run.stdout
}

/// The three lines of `status <user>` for a user with a record (spec §7.3).
fn user_status(current: &str, expires: &str, hashed: &str) -> String {
    format!("Current: {current} (expires {expires})\nHashed: {hashed}\nInitial config: \n")
}

/// The three lines of `status <user>` for a user without a record.
fn no_record(hashed: &str) -> String {
    format!("Current: n/a (expires -1)\nHashed: {hashed}\nInitial config: \n")
}

/// `users` per host from one `-f tab status` output.
fn users(tab_status: &str) -> Vec<(String, u32)> {
    util::parse_tab_status(tab_status)
        .into_iter()
        .map(|(ip, _, _, users)| (ip, users))
        .collect()
}

/// Owned (ip, count) pairs, for comparing with [`users`] or `connections`.
fn counts(pairs: &[(&str, u32)]) -> Vec<(String, u32)> {
    pairs.iter().map(|&(ip, n)| (ip.to_string(), n)).collect()
}

/// The output of `connections` for these (ip, count) pairs.
fn connections(pairs: &[(&str, u32)]) -> String {
    pairs.iter().map(|(ip, n)| format!("{ip} {n}\n")).collect()
}

// ---- 1. the example batch from the issue ------------------------------

const EXAMPLE_OUTPUT: &str = "10.0.0.1\n\
Current: 10.0.0.1 (expires 2025-01-01 00:15:00)\n\
Hashed: 10.0.0.1\n\
Initial config: \n\
mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n\
10.0.0.1\t\t100\tup\t-\t1\n\
10.0.0.2\t\t0\tup\t-\t0\n\
user                  hash       mail server ip expire time        \n\
user0001              1419941427 10.0.0.1       2025-01-01 00:15:00\n";

#[test]
fn issue_example_batch() {
    let out = run_ok(&[
        "add 10.0.0.1 100",
        "add 10.0.0.2 100",
        "login user0001 2",
        "status user0001",
        "update 10.0.0.2 0",
        "flush 10.0.0.2",
        "wait 5s",
        "-f tab status",
        "map",
    ]);
    // user0001 hashes to 10.0.0.1: the flush of 10.0.0.2 has nothing to
    // move. Map widths 8/10/14/19: T = 54, `user` (EXPAND) gets +13.
    assert_eq!(out, EXAMPLE_OUTPUT);
}

#[test]
fn issue_example_batch_with_doveadm_prefixes() {
    let out = run_ok(&[
        "doveadm director add 10.0.0.1 100",
        "doveadm director add 10.0.0.2 100",
        "login user0001 2",
        "doveadm director status user0001",
        "doveadm director update 10.0.0.2 0",
        "doveadm director flush 10.0.0.2",
        "wait 5s",
        "doveadm -f tab director status",
        "doveadm director map",
    ]);
    assert_eq!(out, EXAMPLE_OUTPUT);
}

#[test]
fn issue_example_batch_with_a_user_on_the_flushed_host() {
    let out = run_ok(&[
        "doveadm director add 10.0.0.1 100",
        "doveadm director add 10.0.0.2 100",
        "login user0002 2",
        "doveadm director status user0002",
        "doveadm director update 10.0.0.2 0",
        "doveadm director flush 10.0.0.2",
        "wait 5s",
        "doveadm -f tab director status",
        "doveadm director map",
        "connections",
    ]);
    // The flush moves user0002 to 10.0.0.1 at +0s (timestamp = now, so the
    // expiry is still 00:15:00) and kicks both its connections. Map widths
    // 8/9/14/19: T = 53, `user` gets +13.
    let expected = "10.0.0.2\n\
Current: 10.0.0.2 (expires 2025-01-01 00:15:00)\n\
Hashed: 10.0.0.2\n\
Initial config: \n\
mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n\
10.0.0.1\t\t100\tup\t-\t1\n\
10.0.0.2\t\t0\tup\t-\t0\n\
user                  hash      mail server ip expire time        \n\
user0002              922745041 10.0.0.1       2025-01-01 00:15:00\n\
10.0.0.1 0\n\
10.0.0.2 0\n";
    assert_eq!(out, expected);
}

#[test]
fn initial_config_comes_from_director_mail_servers() {
    let out = run_ok(&[
        "director_mail_servers = 10.0.0.1-10.0.0.2",
        "update 10.0.0.2 0",
        "login user0002",
        "status user0002",
    ]);
    // The frozen initial ring still has 10.0.0.2 at 100 vhosts.
    assert_eq!(
        out,
        "10.0.0.1\n\
         Current: 10.0.0.1 (expires 2025-01-01 00:15:00)\n\
         Hashed: 10.0.0.1\n\
         Initial config: 10.0.0.2\n"
    );
}

// ---- 2. bad input in batch mode ----------------------------------------

/// Runs `add 10.0.0.1`, `status`, a comment and a blank line, then `bad`
/// (line 5) and another `status`: exit 2, the first table printed, the
/// second not, and stderr naming line 5 with a message containing `want`.
fn assert_rejected(bad: &str, want: &str) {
    let run: Run = util::shell(&script(&[
        "add 10.0.0.1",
        "status",
        "# a comment",
        "",
        bad,
        "status",
    ]));
    assert_eq!(run.code, 2, "{bad:?}: stderr {:?}", run.stderr);
    let prefix = format!("dirsim: <stdin>:5: {bad}: ");
    assert!(
        run.stderr.starts_with(&prefix),
        "{bad:?}: stderr {:?}",
        run.stderr
    );
    assert!(
        run.stderr.contains(want),
        "{bad:?}: stderr {:?} lacks {want:?}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "{:?}", run.stderr);
    assert_eq!(
        run.stdout,
        "mail server ip tag vhosts state state changed users              \n\
         10.0.0.1           100    up    -             0                  \n",
        "{bad:?}"
    );
}

#[test]
fn unknown_hosts_stop_the_script() {
    assert_rejected("update 10.0.0.9 0", "update: host 10.0.0.9 doesn't exist");
    assert_rejected("flush nosuchname", "unknown host \"nosuchname\"");
    assert_rejected("down 10.0.0.9", "doesn't exist");
    assert_rejected("move bob 10.0.0.9", "doesn't exist");
}

#[test]
fn refused_commands_stop_the_script() {
    assert_rejected("update 10.0.0.1 1001", "vhost count too large");
    assert_rejected("add 10.0.0.1@east", "host tag can't be changed");
}

#[test]
fn syntax_errors_stop_the_script() {
    assert_rejected("frobnicate", "unknown command \"frobnicate\"");
    assert_rejected("update 10.0.0.1", "missing argument");
    assert_rejected("update 10.0.0.1 x", "invalid vhost count");
    assert_rejected("wait 5", "invalid duration \"5\"");
    assert_rejected("wait", "usage: wait DURATION");
    assert_rejected("login bob 0", "invalid connection count \"0\"");
    assert_rejected("login bob x", "invalid connection count \"x\"");
    assert_rejected("logout nobody", "never logged in");
    // Found by the shell property test: the clock overflowed (a panic in debug builds).
    assert_rejected("wait 99999999999d", "past 2106-02-07 06:28:15");
    assert_rejected("wait 213503982334d", "past 2106-02-07 06:28:15");
}

#[test]
fn settings_after_the_first_command_stop_the_script() {
    assert_rejected(
        "director_user_expire = 20s",
        "settings must come before the first command",
    );
}

/// Found by review while fuzzing: a huge kick latency or reconnect delay
/// overflowed the clock at the first kick (a panic in debug builds).
#[test]
fn delays_longer_than_the_clock_are_refused() {
    for setting in ["dirsim_kick_latency", "dirsim_reconnect_after_kick"] {
        let line = format!("{setting} = 213503982334d");
        let run = util::shell(&script(&[&line, "add 10.0.0.1", "login alice", "kick alice"]));
        assert_eq!(run.code, 2, "{line}: {}", run.stderr);
        assert!(run.stderr.contains("is too long"), "{line}: {}", run.stderr);
    }
}

#[test]
fn bad_settings_before_any_command() {
    let run = util::shell(&script(&["director_user_expire = 5s", "add 10.0.0.1", "status"]));
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "dirsim: <stdin>:1: director_user_expire = 5s: director_user_expire: \"5s\" is below the minimum of 10s\n"
    );
}

/// Found by fuzzing (shell_script): with a cap of 0 no kick ever started,
/// so `kick` blocked forever while the clients kept refreshing.
#[test]
fn parallel_caps_of_zero_are_refused() {
    for setting in ["director_max_parallel_moves", "director_max_parallel_kicks"] {
        let line = format!("{setting} = 0");
        let run = util::shell(&script(&[&line, "add 10.0.0.1", "login alice", "kick alice"]));
        assert_eq!(run.code, 2, "{line}: {}", run.stderr);
        assert!(
            run.stderr.contains("expected a positive integer"),
            "{line}: {}",
            run.stderr
        );
    }
}

/// Found by fuzzing (shell_script): with no host left to move users to,
/// clients that reconnect into a flush refresh their records ahead of it,
/// and the flush never ends. The shell stops waiting after a simulated day.
#[test]
fn a_flush_that_never_ends_gives_up_after_a_day() {
    let run = util::shell(&script(&[
        "dirsim_reconnect_after_kick = 0s",
        "add b1=10.0.0.1 100",
        "login bob",
        "login carol",
        "update b1 0",
        "flush --max-parallel 1 b1",
        "time",
    ]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("flush: still running after 1d of simulated time"),
        "{}",
        run.stderr
    );
}

/// Found by review while fuzzing: a start before 1970 overflowed the clock
/// (a panic in debug builds), one after 2106 wrapped the director's
/// 32-bit seconds.
#[test]
fn start_outside_the_32_bit_clock_is_refused() {
    for start in ["1900-01-01 00:00:00", "2200-01-01 00:00:00"] {
        let out = util::dirsim()
            .args(["shell", "--start", start])
            .write_stdin("add 10.0.0.1\nstatus\n")
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{start}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("from 1970 to 2106 (the director's 32-bit clock)"),
            "{start}: {stderr}"
        );
    }
}

// ---- 3. status table layout at 80 columns (spec §7.1) ------------------

#[test]
fn status_table_with_no_hosts() {
    // Widths are the titles: 14,3,6,5,13,5; T = 51, users gets +14 -> 19.
    assert_eq!(
        run_ok(&["status"]),
        "mail server ip tag vhosts state state changed users              \n"
    );
}

#[test]
fn status_table_reproduces_the_spec_example() {
    // Spec §7.1: 10.0.0.1 100 up 125 users, 10.0.0.2 0 up 144, 10.0.0.3
    // 100 down since 2024-03-01 12:00:00 with 115. Each batch of users logs
    // in while its host is the only one on the ring.
    let mut lines = vec!["add 10.0.0.1".to_string()];
    let batch = |lines: &mut Vec<String>, prefix: &str, n: usize| {
        lines.extend((0..n).map(|i| format!("login {prefix}{i}")));
    };
    batch(&mut lines, "a", 125);
    lines.extend(["update 10.0.0.1 0", "add 10.0.0.2"].map(String::from));
    batch(&mut lines, "b", 144);
    lines.extend(["update 10.0.0.2 0", "add 10.0.0.3"].map(String::from));
    batch(&mut lines, "c", 115);
    lines.extend(["update 10.0.0.1 100", "down 10.0.0.3", "status"].map(String::from));
    let out = util::dirsim()
        .args(["shell", "--start", "2024-03-01 12:00:00"])
        .write_stdin(script(&lines.iter().map(String::as_str).collect::<Vec<_>>()))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let table: Vec<&str> = stdout.lines().skip(125 + 144 + 115).collect();
    // Widths 14,3,6,5,19,5: T = 57, users gets floor(23/2) = 11 -> 16.
    assert_eq!(
        table.join("\n") + "\n",
        "mail server ip tag vhosts state state changed       users           \n\
         10.0.0.1           100    up    -                   125             \n\
         10.0.0.2           0      up    -                   144             \n\
         10.0.0.3           100    down  2024-03-01 12:00:00 115             \n"
    );
}

#[test]
fn status_table_orders_hosts_numerically_and_widens_for_values() {
    let out = run_ok(&[
        "add 10.0.0.1",
        "login alice",
        "login user0001 3",
        "add 10.0.0.10 1000",
        "add 10.0.0.2 0",
        "wait 90s",
        "down 10.0.0.10",
        "status",
    ]);
    // Widths 14,3,6,5,19,5: T = 57, users +11 -> 16. 10.0.0.2 sorts before
    // 10.0.0.10 (numeric order, not text order); the users column counts
    // records (2), not connections (4).
    assert_eq!(
        out,
        "10.0.0.1\n10.0.0.1\n\
         mail server ip tag vhosts state state changed       users           \n\
         10.0.0.1           100    up    -                   2               \n\
         10.0.0.2           0      up    -                   0               \n\
         10.0.0.10          1000   down  2025-01-01 00:01:30 0               \n"
    );
}

// ---- 4. expiry and keep-alive refreshes (spec §3.3) --------------------

/// `director_user_expire = 20s` (keep-alive every 10 s), one host, then
/// `steps`.
fn run_expire_20s(steps: &[&str]) -> String {
    let mut lines = vec!["director_user_expire = 20s", "add 10.0.0.1"];
    lines.extend_from_slice(steps);
    run_ok(&lines)
}

#[test]
fn logged_out_user_expires_exactly_at_login_plus_expire() {
    let out = run_expire_20s(&[
        "login u",
        "logout u",
        "wait 19s",
        "status u",
        "-f tab status",
        "wait 1s",
        "status u",
        "-f tab status",
    ]);
    let expected = format!(
        "10.0.0.1\n{}{TAB_TITLES}10.0.0.1\t\t100\tup\t-\t1\n{}{TAB_TITLES}10.0.0.1\t\t100\tup\t-\t0\n",
        user_status("10.0.0.1", "2025-01-01 00:00:20", "10.0.0.1"),
        no_record("10.0.0.1"),
    );
    assert_eq!(out, expected);
}

#[test]
fn connected_user_never_expires() {
    let out = run_expire_20s(&[
        "login u",
        "wait 95s",
        "status u",
        "wait 905s",
        "status u",
        "-f tab status",
    ]);
    // Keep-alives at +10s, +20s, ...: the last one before +95s is +90s.
    let expected = format!(
        "10.0.0.1\n{}{}{TAB_TITLES}10.0.0.1\t\t100\tup\t-\t1\n",
        user_status("10.0.0.1", "2025-01-01 00:01:50", "10.0.0.1"),
        user_status("10.0.0.1", "2025-01-01 00:17:00", "10.0.0.1"),
    );
    assert_eq!(out, expected);
}

#[test]
fn closed_connection_expires_after_its_last_refresh() {
    // Refreshed at +10s, closed at +15s: dies at +30s, not at +35s.
    let out = run_expire_20s(&[
        "login u",
        "wait 15s",
        "logout u",
        "wait 14s",
        "status u",
        "wait 1s",
        "status u",
        "-f tab status",
    ]);
    let expected = format!(
        "10.0.0.1\n{}{}{TAB_TITLES}10.0.0.1\t\t100\tup\t-\t0\n",
        user_status("10.0.0.1", "2025-01-01 00:00:30", "10.0.0.1"),
        no_record("10.0.0.1"),
    );
    assert_eq!(out, expected);
}

#[test]
fn a_new_login_refreshes_the_record() {
    let out = run_expire_20s(&[
        "login u", "logout u", "wait 12s", "login u", "logout u", "wait 19s", "status u",
    ]);
    assert_eq!(
        out,
        format!(
            "10.0.0.1\n10.0.0.1\n{}",
            user_status("10.0.0.1", "2025-01-01 00:00:32", "10.0.0.1")
        )
    );
}

// ---- 5. move (spec §4.10, §5.1) ----------------------------------------

const TRYAGAIN: &str = "Error: User is already being moved, wait a while for it to be finished\n";

#[test]
fn move_switches_the_record_and_blocks_a_second_move() {
    let run = util::shell(&script(&[
        "add 10.0.0.1",
        "add 10.0.0.2",
        "login alice",
        "move alice 10.0.0.1",
        "status alice",
        "connections",
        "move alice 10.0.0.2",
        "wait 1s",
        "move alice 10.0.0.2",
        "status alice",
        "wait 1s",
        "move alice 10.0.0.2",
        "status alice",
        "time",
    ]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Two refused moves (at +0s and +1s), each one line, the script goes on.
    assert_eq!(run.stderr, TRYAGAIN.repeat(2));
    let expected = format!(
        "10.0.0.2\n{}{}{}{}2025-01-01 00:00:02 (+2s)\n",
        user_status("10.0.0.1", "2025-01-01 00:15:00", "10.0.0.2"),
        connections(&[("10.0.0.1", 0), ("10.0.0.2", 0)]),
        user_status("10.0.0.1", "2025-01-01 00:15:00", "10.0.0.2"),
        user_status("10.0.0.2", "2025-01-01 00:15:02", "10.0.0.2"),
    );
    assert_eq!(run.stdout, expected);
}

#[test]
fn login_during_a_move_waits_for_the_kick_delay() {
    let out = run_ok(&[
        "add 10.0.0.1",
        "add 10.0.0.2",
        "login alice",
        "move alice 10.0.0.1",
        "login alice",
        "time",
    ]);
    assert_eq!(out, "10.0.0.2\n10.0.0.1 (waited 2s)\n2025-01-01 00:00:02 (+2s)\n");
}

#[test]
fn move_to_the_current_host_is_a_refresh() {
    let out = run_ok(&[
        "add 10.0.0.1",
        "login alice",
        "logout alice",
        "wait 1m",
        "move alice 10.0.0.1",
        "status alice",
    ]);
    assert_eq!(
        out,
        format!(
            "10.0.0.1\n{}",
            user_status("10.0.0.1", "2025-01-01 00:16:00", "10.0.0.1")
        )
    );
}

// ---- 6. kick (spec §4.11) ----------------------------------------------

#[test]
fn kick_closes_connections_but_keeps_the_record() {
    let out = run_ok(&[
        "add 10.0.0.1",
        "add 10.0.0.2",
        "login alice 3",
        "login user0001 2",
        "connections",
        "kick alice",
        "connections",
        "status alice",
        "login alice",
    ]);
    let expected = format!(
        "10.0.0.2\n10.0.0.1\n{}{}{}10.0.0.2\n",
        connections(&[("10.0.0.1", 2), ("10.0.0.2", 3)]),
        connections(&[("10.0.0.1", 2), ("10.0.0.2", 0)]),
        user_status("10.0.0.2", "2025-01-01 00:15:00", "10.0.0.2"),
    );
    assert_eq!(out, expected);
}

// ---- 7. flush -F (spec §4.9) -------------------------------------------

#[test]
fn forced_flush_drops_records_and_keeps_connections() {
    let out = run_ok(&[
        "add 10.0.0.1",
        "add 10.0.0.2",
        "login alice 2",
        "login bob",
        "login user0001",
        "update 10.0.0.2 0",
        "flush -F 10.0.0.2",
        "-f tab status",
        "connections",
        "status alice",
        "login alice",
        "connections",
    ]);
    // Records gone at once, no kicks: alice's next login re-hashes to
    // 10.0.0.1 while her two old sessions stay on 10.0.0.2.
    let expected = format!(
        "10.0.0.2\n10.0.0.2\n10.0.0.1\n{TAB_TITLES}10.0.0.1\t\t100\tup\t-\t1\n10.0.0.2\t\t0\tup\t-\t0\n{}{}10.0.0.1\n{}",
        connections(&[("10.0.0.1", 1), ("10.0.0.2", 3)]),
        no_record("10.0.0.1"),
        connections(&[("10.0.0.1", 2), ("10.0.0.2", 3)]),
    );
    assert_eq!(out, expected);
}

// ---- 8. paced flush (spec §4.9, §5.5) ----------------------------------

/// Three users (alice, bob, carol) on 10.0.0.1, then 10.0.0.2 added and
/// 10.0.0.1 set to 0 vhosts, then a paced flush of 10.0.0.1 and `after`.
fn paced_flush(max_parallel: u32, after: &[&str]) -> String {
    let flush = format!("flush --max-parallel {max_parallel} 10.0.0.1");
    let mut lines = vec![
        "add 10.0.0.1",
        "login alice",
        "login bob",
        "login carol",
        "add 10.0.0.2",
        "update 10.0.0.1 0",
        "time",
        &flush,
        "time",
        "-f tab status",
    ];
    lines.extend_from_slice(after);
    run_ok(&lines)
}

const ALL_MOVED: &str = "mail server ip\ttag\tvhosts\tstate\tstate changed\tusers\n\
10.0.0.1\t\t0\tup\t-\t0\n\
10.0.0.2\t\t100\tup\t-\t3\n";

#[test]
fn paced_flush_with_one_slot_returns_when_the_last_move_frees_its_slot() {
    // Moves start at +0s, +2s, +4s. Dovecot's director_host_reset_users()
    // stops iterating as soon as the cap is reached, *before* looking for
    // another record, so with M a multiple of P the reply only comes when
    // the last move finishes (+6s), not when it starts (+4s, the
    // (ceil(M/P)-1)*2s of spec §5.5). All moves are then done: no login
    // waits.
    let out = paced_flush(1, &["login alice", "login bob", "login carol", "time"]);
    let expected = format!(
        "10.0.0.1\n10.0.0.1\n10.0.0.1\n2025-01-01 00:00:00 (+0s)\n2025-01-01 00:00:06 (+6s)\n{ALL_MOVED}\
         10.0.0.2\n10.0.0.2\n10.0.0.2\n2025-01-01 00:00:06 (+6s)\n"
    );
    assert_eq!(out, expected);
}

#[test]
fn paced_flush_returns_when_a_partial_last_wave_starts() {
    // P = 2: alice and bob at +0s, carol (a partial wave) at +2s; the reply
    // comes at +2s, (ceil(3/2)-1)*2s, while carol's move runs until +4s.
    let out = paced_flush(
        2,
        &["login alice", "login carol", "time", "wait 2s", "login carol"],
    );
    let expected = format!(
        "10.0.0.1\n10.0.0.1\n10.0.0.1\n2025-01-01 00:00:00 (+0s)\n2025-01-01 00:00:02 (+2s)\n{ALL_MOVED}\
         10.0.0.2\n10.0.0.2 (waited 2s)\n2025-01-01 00:00:04 (+4s)\n10.0.0.2\n"
    );
    assert_eq!(out, expected);
}

// ---- 9. logins with no usable host (spec §3.2, §5.3) -------------------

/// The seconds in a `time` line's `(+Ns)`.
fn elapsed_secs(time_line: &str) -> u64 {
    let plus = time_line.split("(+").nth(1).expect("(+N)");
    plus.trim_end_matches(')')
        .trim_end_matches('s')
        .parse()
        .expect("seconds")
}

#[test]
fn login_to_a_down_only_cluster_fails_after_the_request_timeout() {
    let out = run_ok(&["add 10.0.0.1", "down 10.0.0.1", "login x", "time", "status x"]);
    let lines: Vec<&str> = out.lines().collect();
    let waited = lines[0]
        .strip_prefix("failed: no backend after ")
        .expect("a failure");
    let secs: u64 = waited
        .strip_suffix('s')
        .expect("seconds")
        .parse()
        .expect("a number");
    assert!((30..=60).contains(&secs), "{out}");
    assert_eq!(elapsed_secs(lines[1]), secs);
    // Exactly 30 s here: the queue timer is armed by this request.
    assert_eq!(
        out,
        format!(
            "failed: no backend after 30s\n2025-01-01 00:00:30 (+30s)\n{}",
            no_record("")
        )
    );
}

#[test]
fn existing_record_sticks_to_a_down_host() {
    let out = run_ok(&["add 10.0.0.1", "login x", "logout x", "down 10.0.0.1", "login x"]);
    assert_eq!(out, "10.0.0.1\n10.0.0.1\n");
}

// ---- 10. tags ----------------------------------------------------------

#[test]
fn tagged_hosts_show_their_tag() {
    let out = run_ok(&[
        "add 10.0.0.5@east",
        "add -t west 10.0.0.6 50",
        "add 10.0.0.1",
        "status",
        "-f tab status",
        "status alice east",
        "status alice",
        "dump",
    ]);
    // Widths 14,4,6,5,13,5: T = 52, users gets +14 -> 19.
    let expected = format!(
        "mail server ip tag  vhosts state state changed users              \n\
         10.0.0.1            100    up    -             0                  \n\
         10.0.0.5       east 100    up    -             0                  \n\
         10.0.0.6       west 50     up    -             0                  \n\
         {TAB_TITLES}\
         10.0.0.1\t\t100\tup\t-\t0\n\
         10.0.0.5\teast\t100\tup\t-\t0\n\
         10.0.0.6\twest\t50\tup\t-\t0\n\
         {}{}\
         doveadm director add 10.0.0.1 100\n\
         doveadm director add 10.0.0.5@east 100\n\
         doveadm director add 10.0.0.6@west 50\n",
        no_record("10.0.0.5"),
        no_record("10.0.0.1"),
    );
    assert_eq!(out, expected);
}

#[test]
fn default_tag_logins_never_land_on_tagged_hosts() {
    let out = run_ok(&[
        "add 10.0.0.5@east",
        "add 10.0.0.1",
        "login alice",
        "login bob",
        "-f tab status",
    ]);
    let tab = &out[out.find(TAB_TITLES).expect("a status")..];
    assert_eq!(users(tab), counts(&[("10.0.0.1", 2), ("10.0.0.5", 0)]));
}
