//! The conformance checks of search (protocol.md §16): a store finds what
//! [`SearchQuery::matches`] finds, in the messages as they are now, newest
//! first, paged without gaps or repeats, and only in rooms the reader may
//! read.

use std::sync::Arc;

use super::timeline::{event, stored};
use super::{append, draft, room};
use crate::model::{
    DisplayName, MemberAsk, Message, NewEvent, Request, RoomName, RoomProfile, RoomTitle, SearchQuery, Topic, UserId,
    Visibility, now_millis,
};
use crate::store::{MAX_SEARCH_PAGE, NewRoom, Search, SearchPage, Store};

fn query(text: &str) -> SearchQuery {
    SearchQuery::parse(text).expect("valid search")
}

async fn search(store: &dyn Store, reader: Option<UserId>, text: &str) -> SearchPage {
    store.search(&Search::new(query(text), reader)).await.expect("search answers")
}

/// The contents found, newest first.
fn contents(page: &SearchPage) -> Vec<&str> {
    page.messages.iter().map(|m| &*m.content).collect()
}

fn created(name: &RoomName, visibility: Visibility, owner: UserId, members: &[UserId]) -> NewRoom {
    let person = |n: &str| DisplayName::parse(n).expect("valid name");
    NewRoom {
        name: name.clone(),
        profile: RoomProfile {
            visibility,
            title: Some(RoomTitle::parse("Plans").expect("valid title")),
            topic: Topic::default(),
        },
        creator: (owner, person("Ada")),
        members: members.iter().map(|u| (*u, person("Bob"))).collect(),
        created_at: now_millis(),
    }
}

/// Whole words without case, every word in any order, phrases in order,
/// exclusions: the same answers as [`SearchQuery::matches`], newest first,
/// each message once.
pub async fn search_finds_words_newest_first(store: Arc<dyn Store>) {
    let (lobby, other) = (room("lobby"), room("other"));
    let user = UserId::random();
    let texts = [
        "Deploy on Friday night",
        "the deployment is done",
        "friday: deploy again, DEPLOY!",
        "nothing to see",
        "night shift on friday",
    ];
    for text in texts {
        append(&*store, vec![draft(&lobby, user, text, None)]).await;
    }
    append(&*store, vec![draft(&other, user, "deploy elsewhere", None)]).await;

    let page = search(&*store, Some(user), "deploy").await;
    assert_eq!(
        contents(&page),
        vec!["deploy elsewhere", "friday: deploy again, DEPLOY!", "Deploy on Friday night"],
        "whole words, without case, newest first, each message once"
    );
    assert_eq!(page.next, None, "nothing after the last page");
    assert!(page.messages.iter().all(|m| query("deploy").matches(&m.content)));

    assert_eq!(contents(&search(&*store, Some(user), "FRIDAY deploy").await).len(), 2, "every word, any order");
    assert_eq!(contents(&search(&*store, Some(user), r#""friday night""#).await), vec!["Deploy on Friday night"]);
    assert_eq!(contents(&search(&*store, Some(user), r#""night friday""#).await), Vec::<&str>::new());
    assert_eq!(contents(&search(&*store, Some(user), "friday -deploy").await), vec!["night shift on friday"]);
    assert_eq!(contents(&search(&*store, Some(user), "absent").await), Vec::<&str>::new());

    let mut only_lobby = Search::new(query("deploy"), Some(user));
    only_lobby.room = Some(lobby.clone());
    let page = store.search(&only_lobby).await.expect("search answers");
    assert!(page.messages.iter().all(|m| m.room == lobby), "room= keeps to that room");
    assert_eq!(page.messages.len(), 2);
    only_lobby.room = Some(room("nowhere"));
    assert_eq!(store.search(&only_lobby).await.expect("search answers"), SearchPage::default());
}

/// Pages follow each other by their cursor: together they are every match,
/// newest first, none twice, whatever the page size; `limit` is clamped.
pub async fn search_pages_follow_the_cursor(store: Arc<dyn Store>) {
    let lobby = room("lobby");
    let user = UserId::random();
    let batch: Vec<_> = (0..23).map(|i| draft(&lobby, user, &format!("note {i}"), None)).collect();
    let posted = append(&*store, batch).await;
    append(&*store, vec![draft(&lobby, user, "unrelated", None)]).await;

    let mut seen: Vec<Message> = Vec::new();
    let mut ask = Search::new(query("note"), Some(user));
    ask.limit = 5;
    for _ in 0..10 {
        let page = store.search(&ask).await.expect("search answers");
        assert!(page.messages.len() <= 5, "at most limit");
        seen.extend(page.messages);
        match page.next {
            Some(next) => ask.before = Some(next),
            None => break,
        }
    }
    let newest_first: Vec<_> = posted.iter().rev().map(|m| m.id).collect();
    assert_eq!(seen.iter().map(|m| m.id).collect::<Vec<_>>(), newest_first, "every match once, newest first");

    let mut all = Search::new(query("note"), Some(user));
    all.limit = 0;
    assert_eq!(store.search(&all).await.expect("search answers").messages.len(), 1, "limit 0 is 1");
    all.limit = usize::MAX;
    let page = store.search(&all).await.expect("search answers");
    assert_eq!(page.messages.len(), 23.min(MAX_SEARCH_PAGE));
    assert_eq!(page.next, None);
}

/// An edit is found by its new text only, a delete is never found, and a
/// reaction changes nothing: the index follows the log in its transaction.
pub async fn search_follows_edits_and_deletes(store: Arc<dyn Store>) {
    let lobby = room("lobby");
    let user = UserId::random();
    let first = append(&*store, vec![draft(&lobby, user, "alpha plan", None)]).await.remove(0);
    let second = append(&*store, vec![draft(&lobby, user, "alpha backup", None)]).await.remove(0);

    stored(&*store, event(&lobby, first.id, user, Request::Edit { content: Arc::from("beta plan") }, None)).await;
    assert_eq!(contents(&search(&*store, Some(user), "alpha").await), vec!["alpha backup"], "the old text is gone");
    let page = search(&*store, Some(user), "beta").await;
    assert_eq!(contents(&page), vec!["beta plan"]);
    assert_eq!(page.messages[0].id, first.id);
    assert!(page.messages[0].edited_at.is_some(), "found in its current state");

    let react = Request::React { emoji: crate::model::Emoji::parse("👍").expect("valid emoji"), on: true };
    stored(&*store, event(&lobby, second.id, user, react, None)).await;
    let page = search(&*store, Some(user), "backup").await;
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].reactions.len(), 1, "with its reactions");

    stored(&*store, event(&lobby, second.id, user, Request::Delete, None)).await;
    assert_eq!(contents(&search(&*store, Some(user), "alpha").await), Vec::<&str>::new(), "a delete is never found");
    assert_eq!(contents(&search(&*store, Some(user), "plan").await), vec!["beta plan"]);
}

/// Only rooms the reader may read: a private room's messages reach its
/// members only (not a stranger, not a reader without an identity), a
/// public room's everyone but those banned from it.
pub async fn search_keeps_to_rooms_the_reader_may_read(store: Arc<dyn Store>) {
    let (ada, bob, eve) = (UserId::random(), UserId::random(), UserId::random());
    let (plans, square) = (room("p/plans"), room("square"));
    assert!(store.create_room(created(&plans, Visibility::Private, ada, &[bob])).await.expect("create").is_some());
    assert!(store.create_room(created(&square, Visibility::Public, ada, &[])).await.expect("create").is_some());
    append(&*store, vec![draft(&plans, ada, "secret launch", None)]).await;
    append(&*store, vec![draft(&square, ada, "public launch", None)]).await;

    assert_eq!(contents(&search(&*store, Some(ada), "launch").await), vec!["public launch", "secret launch"]);
    assert_eq!(contents(&search(&*store, Some(bob), "launch").await).len(), 2, "a member finds the room's messages");
    assert_eq!(contents(&search(&*store, Some(eve), "launch").await), vec!["public launch"], "a stranger does not");
    assert_eq!(contents(&search(&*store, None, "launch").await), vec!["public launch"], "nor does an anonymous reader");
    let mut named = Search::new(query("secret"), Some(eve));
    named.room = Some(plans.clone());
    assert_eq!(store.search(&named).await.expect("search answers"), SearchPage::default(), "not even by name");

    let ban = NewEvent::now(
        square.clone(),
        None,
        ada,
        DisplayName::parse("Ada").expect("valid name"),
        Request::Member {
            member: eve,
            member_name: DisplayName::parse("Eve").expect("valid name"),
            ask: MemberAsk::Ban { reason: None },
        },
        None,
    );
    stored(&*store, ban).await;
    assert_eq!(contents(&search(&*store, Some(eve), "launch").await), Vec::<&str>::new(), "nor one banned");
    stored(&*store, ask_leave(&plans, bob)).await;
    assert_eq!(contents(&search(&*store, Some(bob), "launch").await), vec!["public launch"], "nor one who left");
}

fn ask_leave(room_name: &RoomName, user: UserId) -> NewEvent {
    let bob = DisplayName::parse("Bob").expect("valid name");
    NewEvent::now(
        room_name.clone(),
        None,
        user,
        bob.clone(),
        Request::Member { member: user, member_name: bob, ask: MemberAsk::Leave },
        None,
    )
}
