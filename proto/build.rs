//! Compiles the `.proto` files with protox (pure Rust, no `protoc` needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/wire.proto",
        "proto/control.proto",
        "proto/admin.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Front ends reach voiced over a Unix socket with their own connector.
        .build_transport(false)
        // Rarely set and large: boxed, so that every `Event` stays small.
        .boxed(".voice.control.StatusReply.input_device")
        .boxed(".voice.control.StatusReply.output_device")
        .boxed(".voice.control.StatusReply.network")
        .boxed(".voice.control.StatusReply.playing")
        .boxed(".voice.control.StatusReply.recording")
        .boxed(".voice.control.MediaEvent.playing")
        .boxed(".voice.control.MediaEvent.recording")
        .compile_fds(fds)?;
    Ok(())
}
