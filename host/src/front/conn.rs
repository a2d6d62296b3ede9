//! One client connection: requests one after the other (keep-alive, pipelining), each served
//! by [`super::proxy::exchange`].

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use super::http1::{simple_response, HeadError, Reader};
use super::proxy::exchange;
use super::worker::WorkerCtx;
use crate::LogLevel;

/// How long a kept-alive connection may sit without a new request (Envoy's HTTP connection
/// manager `idle_timeout` default).
const CONNECTION_IDLE: Duration = Duration::from_secs(3600);

pub(crate) struct Conn {
    pub reader: Reader,
    pub writer: OwnedWriteHalf,
    pub peer: SocketAddr,
    pub local: SocketAddr,
}

pub(crate) async fn serve(ctx: Rc<WorkerCtx>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (Ok(peer), Ok(local)) = (stream.peer_addr(), stream.local_addr()) else {
        return;
    };
    let (r, w) = stream.into_split();
    let mut conn = Conn {
        reader: Reader::new(r),
        writer: w,
        peer,
        local,
    };
    loop {
        let head = match tokio::time::timeout(CONNECTION_IDLE, conn.reader.head()).await {
            Ok(Ok(Some(head))) => head,
            Ok(Ok(None)) | Err(_) => break,
            Ok(Err(HeadError::Io(e))) => {
                ctx.log(LogLevel::Debug, &format!("{peer}: read failed: {e}"));
                break;
            }
            Ok(Err(HeadError::TooLarge)) => {
                let _ = conn
                    .writer
                    .write_all(&simple_response(431, "Request Header Fields Too Large"))
                    .await;
                break;
            }
            Ok(Err(HeadError::Malformed(why))) => {
                ctx.log(LogLevel::Debug, &format!("{peer}: bad request: {why}"));
                let _ = conn
                    .writer
                    .write_all(&simple_response(400, "Bad Request"))
                    .await;
                break;
            }
        };
        if !exchange(&ctx, &mut conn, head).await {
            break;
        }
    }
    let _ = conn.writer.shutdown().await;
}
