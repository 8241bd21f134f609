# lit configuration for dlc's IR, pass and tool tests.
import os
import lit.formats

config.name = "dlc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".dlc", ".test", ".kir"]
config.excludes = ["Inputs", "unit", "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(os.path.dirname(config.dlc_tools_dir), "test")

path = os.pathsep.join([config.dlc_tools_dir, config.llvm_tools_dir,
                        config.environment.get("PATH", "")])
config.environment["PATH"] = path
# The kernel cache lives in the build tree, never in the user's home.
config.environment["DLC_CACHE_DIR"] = os.path.join(config.dlc_binary_dir, "test",
                                                   "kernel-cache")
config.substitutions.append(("%dlc_src", config.dlc_source_dir))
config.substitutions.append(("%dlc_bin", config.dlc_binary_dir))

# The real Fashion-MNIST files come from Debian's dataset-fashion-mnist.
if os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    config.available_features.add("fashion-mnist")
