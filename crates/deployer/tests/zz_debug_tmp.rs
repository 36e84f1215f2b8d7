mod fake_aws;
use fake_aws::*;
#[tokio::test]
async fn debug() {
    let server = wiremock::MockServer::start().await;
    mount_ready_account(&server).await;
    call_on("DescribeStacks", STACK).respond_with(no_such_stack()).mount(&server).await;
    let fixture = Fixture::lith();
    let r = deployer(&server).deploy(&fixture.request(), &mut Recorder::answering(true)).await;
    eprintln!("{r:?}");
    for r in server.received_requests().await.unwrap() { eprintln!("{} {}", r.method, r.url); }
}
