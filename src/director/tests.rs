//! Behaviour tests of the director core against the spec's rules (§3–§5).
//! Times are absolute milliseconds; `T0` is an arbitrary start second.

use super::*;

const T0: u64 = 1_700_000_000;

fn ms(secs: u64) -> Millis {
    (T0 + secs) * 1000
}

fn ip(s: &str) -> HostIp {
    s.parse().unwrap()
}

fn director(n: usize) -> Director {
    director_with(n, Settings::default())
}

fn director_with(n: usize, settings: Settings) -> Director {
    let mut d = Director::new(settings, &[]);
    d.advance_to(ms(0));
    for i in 1..=n {
        assert_eq!(
            d.host_set(ip(&format!("10.0.0.{i}")), "", Some(100), false),
            Reply::Ok
        );
    }
    d
}

/// Logs `name` in and returns its backend's IP text (must route at once).
fn login(d: &mut Director, name: &str) -> String {
    let slot = d.intern("", hash::user_hash(name));
    match d.request(slot, 0) {
        Route::Host(h) => d.host(h).ip_text().to_string(),
        Route::Queued => panic!("{name} queued"),
    }
}

fn users(d: &Director, i: usize) -> u32 {
    d.host(d.find_host(ip(&format!("10.0.0.{i}"))).unwrap())
        .user_count()
}

fn effects(d: &mut Director) -> Vec<Effect> {
    let mut v = Vec::new();
    d.take_effects(&mut v);
    v
}

/// Names that hash (on the current ring) to host `i`, `n` of them.
fn names_on(d: &mut Director, i: usize, n: usize) -> Vec<String> {
    let want = format!("10.0.0.{i}");
    let tag = d.find_tag("").unwrap();
    (0..)
        .map(|k| format!("u{i}-{k}"))
        .filter(|name| {
            let h = d.hashed_host(tag, hash::user_hash(name)).unwrap();
            d.host(h).ip_text() == want
        })
        .take(n)
        .collect()
}

#[test]
fn record_expires_exactly_at_timestamp_plus_expire() {
    // spec §3.3: dead once now ≥ timestamp + 900.
    let mut d = director(3);
    login(&mut d, "user1"); // → 10.0.0.3 (spec §2.5)
    assert_eq!(users(&d, 3), 1);
    d.advance_to(ms(899) + 999);
    assert_eq!(users(&d, 3), 1);
    d.advance_to(ms(900));
    assert_eq!(users(&d, 3), 0, "the sweep timer fires at the expiry second");
}

#[test]
fn keepalive_refresh_extends_the_record() {
    let mut d = director(3);
    login(&mut d, "user1");
    d.advance_to(ms(450));
    d.notify(hash::user_hash("user1"));
    d.advance_to(ms(1349));
    assert_eq!(users(&d, 3), 1);
    d.advance_to(ms(1350));
    assert_eq!(users(&d, 3), 0);
}

#[test]
fn login_refreshes_and_lookup_frees_dead_records() {
    let mut d = director(3);
    login(&mut d, "user1");
    d.advance_to(ms(600));
    login(&mut d, "user1"); // refresh: expires at 1500
    let l = d.user_lookup(hash::user_hash("user1"), "");
    assert_eq!(l.current.map(|(_, e)| e as u64), Some(T0 + 1500));
    d.advance_to(ms(1500));
    let l = d.user_lookup(hash::user_hash("user1"), "");
    assert_eq!(l.current, None);
}

#[test]
fn head_only_sweep_keeps_dead_records_behind_a_moved_head() {
    // spec §3.5: a move sets the timestamp without moving the record in the
    // list; older records behind it stay counted until it dies.
    let mut d = director(3);
    let a = names_on(&mut d, 1, 1).remove(0);
    let b = names_on(&mut d, 2, 1).remove(0);
    login(&mut d, &a); // t=0, head
    d.advance_to(ms(10));
    login(&mut d, &b); // t=10
    d.advance_to(ms(20));
    assert_eq!(d.user_move(hash::user_hash(&a), ip("10.0.0.3")), Reply::Ok);
    // b would die at 910, but a (timestamp 20, at the head) blocks the sweep.
    d.advance_to(ms(915));
    assert_eq!(users(&d, 2), 1, "dead record still counted behind the head");
    // Routing ignores it: a lookup frees it on the spot.
    assert_eq!(d.user_lookup(hash::user_hash(&b), "").current, None);
    assert_eq!(users(&d, 2), 0);
    d.advance_to(ms(920));
    assert_eq!(users(&d, 3), 0, "the moved head expires at 20 + 900");
}

#[test]
fn head_sweep_frees_blocked_records_when_head_dies() {
    let mut d = director(3);
    let a = names_on(&mut d, 1, 1).remove(0);
    let b = names_on(&mut d, 2, 1).remove(0);
    login(&mut d, &a);
    d.advance_to(ms(10));
    login(&mut d, &b);
    d.advance_to(ms(20));
    d.user_move(hash::user_hash(&a), ip("10.0.0.3"));
    d.advance_to(ms(919));
    assert_eq!((users(&d, 2), users(&d, 3)), (1, 1));
    d.advance_to(ms(920));
    assert_eq!((users(&d, 2), users(&d, 3)), (0, 0));
}

#[test]
fn records_stick_to_down_and_zero_vhost_hosts() {
    // spec §3.4: an existing record wins over the ring.
    let mut d = director(3);
    assert_eq!(login(&mut d, "user3"), "10.0.0.2");
    d.host_set(ip("10.0.0.2"), "", Some(0), true);
    assert_eq!(login(&mut d, "user3"), "10.0.0.2");
    d.host_updown(ip("10.0.0.2"), true);
    assert_eq!(login(&mut d, "user3"), "10.0.0.2");
    let l = d.user_lookup(hash::user_hash("user3"), "");
    assert_eq!(d.host(l.hashed.unwrap()).ip_text(), "10.0.0.1"); // §2.5
    // A new user never lands on the 0-vhost/down host.
    for n in names_on(&mut d, 1, 20) {
        assert_ne!(login(&mut d, &n), "10.0.0.2");
    }
}

#[test]
fn updown_time_changes_only_on_real_change() {
    let mut d = director(1);
    d.advance_to(ms(5));
    d.host_updown(ip("10.0.0.1"), false);
    assert_eq!(d.host(HostId(0)).last_updown_change(), 0);
    d.host_updown(ip("10.0.0.1"), true);
    d.advance_to(ms(9));
    d.host_updown(ip("10.0.0.1"), true);
    assert_eq!(d.host(HostId(0)).last_updown_change(), (T0 + 5) as i64);
    assert_eq!(d.host_updown(ip("10.9.9.9"), true), Reply::NotFound);
}

#[test]
fn add_update_errors() {
    let mut d = director(1);
    assert_eq!(d.host_set(ip("10.0.0.9"), "", Some(5), true), Reply::NotFound);
    assert_eq!(
        d.host_set(ip("10.0.0.1"), "", Some(1001), true),
        Reply::Error("vhost count too large".into())
    );
    assert_eq!(d.host_set(ip("10.0.0.1"), "", Some(1000), true), Reply::Ok);
    assert_eq!(
        d.host_set(ip("10.0.0.1"), "other", None, false),
        Reply::Error("host tag can't be changed".into())
    );
    // add without a count keeps the count
    d.host_set(ip("10.0.0.1"), "", None, false);
    assert_eq!(d.host(HostId(0)).vhosts(), 1000);
}

/// Sets up 3 hosts with `n` users hashed to 10.0.0.2, then takes it off
/// the ring, so a flush of it moves all of them.
fn drained(n: usize, settings: Settings) -> (Director, Vec<String>) {
    let mut d = director_with(3, settings);
    let names = names_on(&mut d, 2, n);
    for name in &names {
        assert_eq!(login(&mut d, name), "10.0.0.2");
    }
    d.host_set(ip("10.0.0.2"), "", Some(0), true);
    effects(&mut d);
    (d, names)
}

#[test]
fn flush_of_zero_vhost_host_moves_everyone_in_waves() {
    // spec §5.5: 250 users, cap 100: waves at 0, 2 s and 4 s; the command
    // replies when the last wave starts; all done 2 s later.
    let (mut d, names) = drained(250, Settings::default());
    let Reply::Pending(id) = d.host_reset_users(Some(ip("10.0.0.2")), None) else {
        panic!("a 250-user flush cannot finish at once")
    };
    // users switch host the moment their move starts
    assert_eq!(users(&d, 2), 150);
    assert_eq!(d.moving_count(), 100);
    let kicks = effects(&mut d)
        .iter()
        .filter(|e| matches!(e, Effect::KickHash { .. }))
        .count();
    assert_eq!(kicks, 100);
    d.advance_to(ms(2) - 1);
    assert_eq!(users(&d, 2), 150);
    d.advance_to(ms(2));
    assert_eq!(users(&d, 2), 50);
    d.advance_to(ms(4) - 1);
    assert!(!effects(&mut d).contains(&Effect::CommandDone { id, reply: Reply::Ok }));
    d.advance_to(ms(4));
    assert_eq!(users(&d, 2), 0);
    assert!(effects(&mut d).contains(&Effect::CommandDone { id, reply: Reply::Ok }));
    assert!(!d.is_settled());
    d.advance_to(ms(6));
    assert!(d.is_settled());
    assert_eq!(users(&d, 1) + users(&d, 3), 250);
    assert_eq!(d.counters().users_moved, 250);
    // every user now sits where the ring says
    let tag = d.find_tag("").unwrap();
    for n in &names {
        let slot = d.intern("", hash::user_hash(n));
        assert_eq!(d.record_host(slot), d.hashed_host(tag, hash::user_hash(n)));
    }
}

#[test]
fn max_parallel_option_and_settings_cap() {
    let (mut d, _) = drained(10, Settings::default());
    let Reply::Pending(_) = d.host_reset_users(Some(ip("10.0.0.2")), Some(3)) else {
        panic!()
    };
    assert_eq!(d.moving_count(), 3);
    d.advance_to(ms(2));
    assert_eq!(d.moving_count(), 3);
    assert_eq!(users(&d, 2), 4);
    d.advance_to(ms(6));
    assert_eq!(users(&d, 2), 0);
    assert_eq!(
        d.host_reset_users(None, Some(0)),
        Reply::Error("invalid HOST-RESET-USERS parameters".into())
    );
    let s = Settings {
        max_parallel_moves: 4,
        ..Settings::default()
    };
    let (mut d, _) = drained(10, s);
    let Reply::Pending(_) = d.host_reset_users(None, None) else {
        panic!()
    };
    assert_eq!(d.moving_count(), 4);
}

#[test]
fn moved_users_wait_for_the_kick_delay() {
    let (mut d, names) = drained(1, Settings::default());
    assert_eq!(d.host_reset_users(Some(ip("10.0.0.2")), None), Reply::Ok);
    let slot = d.intern("", hash::user_hash(&names[0]));
    assert_eq!(d.request(slot, 77), Route::Queued);
    d.advance_to(ms(1));
    assert!(
        !effects(&mut d)
            .iter()
            .any(|e| matches!(e, Effect::RequestRouted { .. }))
    );
    d.advance_to(ms(2));
    let new = d.record_host(slot).unwrap();
    assert_ne!(d.host(new).ip_text(), "10.0.0.2");
    assert!(effects(&mut d).contains(&Effect::RequestRouted { token: 77, host: new }));
}

#[test]
fn kick_latency_delays_the_move_end() {
    let s = Settings {
        kick_latency_ms: 1500,
        ..Settings::default()
    };
    let (mut d, _) = drained(1, s);
    d.host_reset_users(Some(ip("10.0.0.2")), None);
    d.advance_to(ms(3) + 499);
    assert_eq!(d.moving_count(), 1);
    d.advance_to(ms(3) + 500);
    assert_eq!(d.moving_count(), 0);
}

#[test]
fn watchdog_force_finishes_a_stuck_move() {
    // A kick that takes 40 s: the 30 s watchdog ends the move first.
    let s = Settings {
        kick_latency_ms: 40_000,
        ..Settings::default()
    };
    let (mut d, _) = drained(1, s);
    d.host_reset_users(Some(ip("10.0.0.2")), None);
    d.advance_to(ms(30) - 1);
    assert_eq!(d.moving_count(), 1);
    d.advance_to(ms(30));
    assert_eq!(d.moving_count(), 0);
    assert_eq!(d.kicking_count(), 1);
    d.advance_to(ms(40));
    assert_eq!(d.kicking_count(), 0);
}

#[test]
fn flush_moves_only_the_flushed_hosts_strays_and_is_idempotent() {
    let mut d = director(3);
    let on2 = names_on(&mut d, 2, 30);
    let on1 = names_on(&mut d, 1, 30);
    for n in on2.iter().chain(&on1) {
        login(&mut d, n);
    }
    // A fourth host takes over part of 2's arcs (and of 1's).
    d.host_set(ip("10.0.0.4"), "", Some(100), false);
    let before = (users(&d, 1), users(&d, 2), users(&d, 3));
    assert_eq!(d.host_reset_users(Some(ip("10.0.0.2")), None), Reply::Ok);
    d.advance_to(ms(2));
    let after = (users(&d, 1), users(&d, 2), users(&d, 3));
    assert_eq!(after.0, before.0, "host 1 is not flushed: untouched");
    assert_eq!(
        after.2, before.2,
        "a flush never brings users to other old hosts here"
    );
    let moved = before.1 - after.1;
    assert_eq!(users(&d, 4), moved, "2's strays all go to the new host");
    assert!(moved > 0 && moved < 30);
    // Idempotent on an unchanged ring.
    effects(&mut d);
    assert_eq!(d.host_reset_users(Some(ip("10.0.0.2")), None), Reply::Ok);
    assert!(
        effects(&mut d)
            .iter()
            .all(|e| !matches!(e, Effect::KickHash { .. }))
    );
    assert_eq!(users(&d, 2), after.1);
}

#[test]
fn force_flush_drops_records_without_kicks() {
    let (mut d, names) = drained(5, Settings::default());
    assert_eq!(d.host_flush_force(Some(ip("10.0.0.2"))), Reply::Ok);
    assert_eq!(users(&d, 2), 0);
    assert!(effects(&mut d).is_empty(), "no kicks");
    // next login re-hashes
    assert_ne!(login(&mut d, &names[0]), "10.0.0.2");
    assert_eq!(d.host_flush_force(None), Reply::Ok);
    assert_eq!(d.record_count(), 0);
}

#[test]
fn flush_with_no_usable_host_kicks_then_drops() {
    let mut d = director(1);
    login(&mut d, "a");
    login(&mut d, "b");
    d.host_updown(ip("10.0.0.1"), true);
    effects(&mut d);
    assert_eq!(d.host_reset_users(None, None), Reply::Ok);
    let e = effects(&mut d);
    assert_eq!(
        e.iter().filter(|e| matches!(e, Effect::KickHash { .. })).count(),
        2
    );
    assert_eq!(users(&d, 1), 0);
    assert_eq!(d.moving_count(), 0);
}

#[test]
fn logins_with_no_host_fail_after_30_to_60_seconds() {
    let mut d = director(1);
    d.host_updown(ip("10.0.0.1"), true);
    d.advance_to(ms(10));
    let slot = d.intern("", hash::user_hash("x"));
    assert_eq!(d.request(slot, 1), Route::Queued); // timer armed: fires at 40
    d.advance_to(ms(25));
    assert_eq!(d.request(slot, 2), Route::Queued);
    d.advance_to(ms(40));
    assert_eq!(effects(&mut d), vec![Effect::RequestFailed { token: 1 }]);
    d.advance_to(ms(69));
    assert!(effects(&mut d).is_empty());
    d.advance_to(ms(70));
    assert_eq!(effects(&mut d), vec![Effect::RequestFailed { token: 2 }]);
    // A host coming back lets waiting logins through at once.
    assert_eq!(d.request(slot, 3), Route::Queued);
    d.host_updown(ip("10.0.0.1"), false);
    d.advance_to(ms(70));
    assert_eq!(
        effects(&mut d),
        vec![Effect::RequestRouted {
            token: 3,
            host: HostId(0)
        }]
    );
}

#[test]
fn move_semantics() {
    let mut d = director(3);
    assert_eq!(login(&mut d, "user1"), "10.0.0.3");
    let h = hash::user_hash("user1");
    assert_eq!(d.user_move(h, ip("10.0.0.9")), Reply::NotFound);
    assert_eq!(d.user_move(h, ip("10.0.0.1")), Reply::Ok);
    assert_eq!(effects(&mut d), vec![Effect::KickHash { hash: h }]);
    assert_eq!(d.user_move(h, ip("10.0.0.2")), Reply::TryAgain);
    d.advance_to(ms(2));
    // Already there: refresh only, no kick, no move.
    assert_eq!(d.user_move(h, ip("10.0.0.1")), Reply::Ok);
    assert!(effects(&mut d).is_empty());
    let s = d.intern("", h);
    assert!(!d.is_moving(s));
    // A user without a record: created on the host, no kick, still blocked 2 s.
    let g = hash::user_hash("newbie");
    assert_eq!(d.user_move(g, ip("10.0.0.2")), Reply::Ok);
    assert!(effects(&mut d).is_empty());
    let s = d.intern("", g);
    assert!(d.is_moving(s));
    // Moves go to down hosts too.
    d.host_updown(ip("10.0.0.2"), true);
    assert_eq!(d.user_move(h, ip("10.0.0.2")), Reply::Ok);
    assert_eq!(users(&d, 2), 2);
}

#[test]
fn kick_leaves_the_record_and_honours_the_cap() {
    let s = Settings {
        max_parallel_kicks: 1,
        kick_latency_ms: 1000,
        ..Settings::default()
    };
    let mut d = director_with(1, s);
    login(&mut d, "a");
    assert_eq!(d.user_kick("a"), Reply::Ok);
    let Reply::Pending(id) = d.user_kick("b") else {
        panic!("second kick waits for the cap")
    };
    assert_eq!(effects(&mut d), vec![Effect::KickUser { user: "a".into() }]);
    d.advance_to(ms(1));
    assert_eq!(
        effects(&mut d),
        vec![
            Effect::KickUser { user: "b".into() },
            Effect::CommandDone { id, reply: Reply::Ok }
        ]
    );
    assert_eq!(users(&d, 1), 1);
}

#[test]
fn remove_drops_records_and_host() {
    let mut d = director(3);
    login(&mut d, "user3");
    assert_eq!(d.host_remove(ip("10.0.0.2")), Reply::Ok);
    assert!(d.find_host(ip("10.0.0.2")).is_none());
    assert_eq!(d.hosts_in_order().len(), 2);
    assert_eq!(login(&mut d, "user3"), "10.0.0.1");
    assert_eq!(d.host_remove(ip("10.0.0.2")), Reply::NotFound);
}

#[test]
fn tags_have_their_own_rings_and_records() {
    let mut d = director(2);
    d.host_set(ip("10.1.0.1"), "east", Some(100), false);
    let slot = d.intern("east", hash::user_hash("user1"));
    let Route::Host(h) = d.request(slot, 0) else {
        panic!()
    };
    assert_eq!(d.host(h).ip_text(), "10.1.0.1");
    login(&mut d, "user1");
    assert_eq!(d.record_count(), 2, "one record per tag");
    let unknown = d.intern("nosuchtag", hash::user_hash("user1"));
    assert_eq!(d.request(unknown, 5), Route::Queued);
    let l = d.user_lookup(hash::user_hash("user1"), "east");
    assert_eq!(l.current.map(|c| c.0), Some(h));
}

#[test]
fn initial_config_ring_is_frozen() {
    let cfg: Vec<(HostIp, String)> = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        .iter()
        .map(|s| (ip(s), String::new()))
        .collect();
    let mut d = Director::new(Settings::default(), &cfg);
    d.advance_to(ms(0));
    d.host_set(ip("10.0.0.2"), "", Some(0), true);
    d.host_remove(ip("10.0.0.3"));
    let l = d.user_lookup(hash::user_hash("user3"), "");
    assert_eq!(l.initial, Some(ip("10.0.0.2")));
    assert_eq!(d.host(l.hashed.unwrap()).ip_text(), "10.0.0.1");
    assert_eq!(l.current, None);
}

#[test]
fn user_list_order_and_filter() {
    let mut d = director(3);
    login(&mut d, "user1");
    d.advance_to(ms(1));
    login(&mut d, "user3");
    d.advance_to(ms(2));
    login(&mut d, "user1"); // refresh moves it to the tail
    let mut rows = Vec::new();
    d.user_list(None, |h, e, host| rows.push((h, e, host)));
    let h1 = hash::user_hash("user1");
    let h3 = hash::user_hash("user3");
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [h3, h1]);
    assert_eq!(rows[1].1 as u64, T0 + 902);
    let mut only = Vec::new();
    let h2 = d.find_host(ip("10.0.0.2"));
    d.user_list(h2, |h, _, _| only.push(h));
    assert_eq!(only, [h3]);
}
