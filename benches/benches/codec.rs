//! Wire codec: `ClientFrame::decode` of a client `messages` frame carrying one
//! message of ~100 bytes, and `ServerFrame::encode` of a server `messages`
//! frame holding one stored message of ~100 bytes (the frame a broadcast
//! encodes once for all subscribers).
//!
//! Throughput is the frame's size in bytes.
//!
//! Run: `cargo bench -p whisper-benches --bench codec`
//! (short run: append `-- --warm-up-time 1 --measurement-time 3`).

use std::borrow::Cow;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use whisper_benches::{content, message};
use whisper_core::Limits;
use whisper_core::codec::{ClientFrame, ServerFrame};
use whisper_core::model::{DisplayName, RoomName, Seq, UserId};

fn decode(c: &mut Criterion) {
    let limits = Limits::default();
    let text = format!(r#"{{"type":"messages","data":[{{"content":"{}","client_id":"c-1"}}]}}"#, content());
    match ClientFrame::decode(&text, &limits) {
        Ok(ClientFrame::Messages { data }) if data.len() == 1 => {}
        other => panic!("the bench frame must decode: {other:?}"),
    }
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("decode_client_messages", |b| {
        b.iter(|| ClientFrame::decode(black_box(&text), &limits));
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let room = RoomName::lobby();
    let user = UserId::random();
    let msg = message(&room, user, &DisplayName::guest(user), &content(), Seq(42));
    let data = [msg];
    let frame = ServerFrame::Messages { room, data: Cow::Borrowed(&data), recovered: None };
    let len = frame.encode().len();
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Bytes(len as u64));
    group.bench_function("encode_server_messages", |b| {
        b.iter(|| black_box(&frame).encode());
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
