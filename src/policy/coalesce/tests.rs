use super::*;

fn answer() -> Arc<Cached> {
    Arc::new(Cached {
        provider: "p".into(),
        model: "m".into(),
        body: "{}".into(),
        prompt_tokens: 1,
        completion_tokens: 1,
        fresh_until_ms: 0,
    })
}

#[tokio::test]
async fn followers_get_the_leaders_answer() {
    let c = Arc::new(Coalescer::default());
    let Role::Leader(leader) = c.join("k") else {
        panic!("first is the leader")
    };
    let followers: Vec<_> = (0..5)
        .map(|_| match c.join("k") {
            Role::Follower(s) => tokio::spawn(wait(s)),
            Role::Leader(_) => panic!("only one leader"),
        })
        .collect();
    leader.publish(answer());
    for f in followers {
        assert_eq!(f.await.unwrap().unwrap().provider, "p");
    }
    assert!(c.is_empty());
}

#[tokio::test]
async fn a_failed_leader_releases_its_followers() {
    let c = Arc::new(Coalescer::default());
    let leader = c.join("k");
    let Role::Follower(slot) = c.join("k") else {
        panic!("second is a follower")
    };
    drop(leader);
    assert!(wait(slot).await.is_none());
    assert!(matches!(c.join("k"), Role::Leader(_)));
}
