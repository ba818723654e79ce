// Whether LLVM knows a CPU name for a target. The LLVM C API has no such query, and a target machine made
// with an unknown CPU later aborts inside LLVM ("64-bit code requested on a subtarget that doesn't
// support it"), so this one question is asked through the C++ API that MC itself uses.
#include <memory>
#include <string>

#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>

extern "C" int driver_cpu_is_known(const char *triple, const char *cpu)
{
    std::string error;
    const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, error);
    if (!target) return 0;
    std::unique_ptr<llvm::MCSubtargetInfo> info(target->createMCSubtargetInfo(triple, "", ""));
    return info && info->isCPUStringValid(cpu);
}
