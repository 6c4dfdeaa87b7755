//! Forensic recordings: every field reads back exactly (bytes of any text included), and
//! listing is newest first, by agent, within the limit.

use gatehouse_store::{Recording, Store};

fn recording(n: i64, agent: &str) -> Recording {
    Recording {
        id: format!("01REC{n:021}"),
        time_ms: 1_700_000_000_000 + n,
        agent: agent.to_owned(),
        workflow: format!("wf-{n}"),
        tool: "tickets".to_owned(),
        request: format!(
            "POST /tickets HTTP/1.1\r\nauthorization: [redacted]\r\n\r\n{{\"n\":{n},\"x\":\"ü\\u0000\"}}"
        ),
        response: "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n\r\n{}".to_owned(),
    }
}

pub(crate) fn a_recording_reads_back_every_field(store: &dyn Store) {
    let written = recording(1, "spiffe://acme/agent/a");
    store.put_recording(&written).unwrap();
    assert_eq!(store.recording(&written.id).unwrap(), Some(written.clone()));
    assert_eq!(store.recording("01UNKNOWN").unwrap(), None);
    let mut replaced = written.clone();
    replaced.response = "HTTP/1.1 500 Internal Server Error\r\n\r\n".to_owned();
    store.put_recording(&replaced).unwrap();
    assert_eq!(store.recording(&written.id).unwrap(), Some(replaced));
}

pub(crate) fn recordings_list_newest_first_by_agent_within_the_limit(store: &dyn Store) {
    for n in 0..6 {
        let agent = if n % 2 == 0 { "even" } else { "odd" };
        store.put_recording(&recording(n, agent)).unwrap();
    }
    let all = store.recordings(None, 100).unwrap();
    let times: Vec<i64> = all.iter().map(|r| r.time_ms - 1_700_000_000_000).collect();
    assert_eq!(times, vec![5, 4, 3, 2, 1, 0]);
    let even = store.recordings(Some("even"), 2).unwrap();
    let times: Vec<i64> = even.iter().map(|r| r.time_ms - 1_700_000_000_000).collect();
    assert_eq!(times, vec![4, 2]);
}
