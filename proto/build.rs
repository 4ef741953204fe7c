//! Compiles the device protocol with protox (a pure-Rust protobuf compiler), so no `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "brewlink/device/v1/telemetry.proto",
        "brewlink/device/v1/status.proto",
        "brewlink/device/v1/command.proto",
        "brewlink/device/v1/program.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    prost_build::Config::new()
        .btree_map(["."])
        .compile_fds(descriptors)?;
    Ok(())
}
