// Splits the generated module into parts that are optimised and compiled on threads of their own (emit_parallel.c).
// The LLVM C API can clone a module but not choose which definitions a clone keeps, so the split is written
// against the C++ API (CloneModule with a definition filter), as LLVM's own SplitModule is.
//
// A part keeps whole units: a function with the local functions that only it refers to (a kernel with its
// parallel body and task), so that a kernel's interprocedural optimisation sees all of its callers. Units go
// largest first to the part with the least code so far. A local function or variable that another part refers
// to becomes a hidden external symbol (the caller localises hidden symbols again after linking the parts), except
// small local constants, which every part that reads them keeps a private copy of, so that they still fold.
// Large constants (embedded weights) go to a data part of their own, a clone in the module's context that is
// compiled as it is: written to bitcode and read back by each part, hundreds of MB would be copied twice.
#include <algorithm>
#include <numeric>
#include <vector>

#include <llvm-c/Core.h>
#include <llvm/ADT/DenseMap.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/Bitcode/BitcodeWriter.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Transforms/Utils/Cloning.h>

using namespace llvm;

namespace {

constexpr uint64_t small_constant_bytes = 4096;    // copied into each part that reads it
constexpr uint64_t large_constant_bytes = 1 << 20; // in the data part

struct splitter {
    Module &module;
    int parts;
    std::vector<Function *> defs;
    DenseMap<const Function *, int> index;
    std::vector<int> unit_of; // union-find parent
    std::vector<int> part_of; // per definition
    DenseMap<const GlobalValue *, uint64_t> used_by; // bit mask of the parts that refer to a global

    splitter(Module &m, int n) : module(m), parts(n) {}

    int find(int i)
    {
        while (unit_of[i] != i) i = unit_of[i] = unit_of[unit_of[i]];
        return i;
    }

    // The one function whose instructions refer to f, or null (several, or a constant such as a table).
    const Function *only_user(const Function &f)
    {
        const Function *only = nullptr;
        for (const User *u : f.users()) {
            const auto *inst = dyn_cast<Instruction>(u);
            if (!inst) return nullptr;
            const Function *p = inst->getFunction();
            if (only && p != only) return nullptr;
            only = p;
        }
        return only;
    }

    void group_units()
    {
        for (Function &f : module)
            if (!f.isDeclaration()) {
                index[&f] = (int)defs.size();
                defs.push_back(&f);
            }
        unit_of.resize(defs.size());
        std::iota(unit_of.begin(), unit_of.end(), 0);
        for (Function *f : defs) {
            if (!f->hasLocalLinkage()) continue;
            const Function *user = only_user(*f);
            if (user && user != f) unit_of[find(index[f])] = find(index.lookup(user));
        }
    }

    void place_units()
    {
        std::vector<uint64_t> size(defs.size(), 0);
        for (size_t i = 0; i < defs.size(); i++) size[find((int)i)] += defs[i]->getInstructionCount() + 1;
        std::vector<int> roots;
        for (size_t i = 0; i < defs.size(); i++)
            if (find((int)i) == (int)i) roots.push_back((int)i);
        std::stable_sort(roots.begin(), roots.end(), [&](int a, int b) { return size[a] > size[b]; });
        std::vector<uint64_t> load(parts, 0);
        std::vector<int> part_of_root(defs.size(), 0);
        for (int r : roots) {
            int p = (int)(std::min_element(load.begin(), load.end()) - load.begin());
            part_of_root[r] = p;
            load[p] += size[r];
        }
        part_of.resize(defs.size());
        for (size_t i = 0; i < defs.size(); i++) part_of[i] = part_of_root[find((int)i)];
    }

    // The parts whose functions refer to g, through constant expressions too; a reference from a global's
    // initialiser counts as one from part 0, which defines every global variable it does not copy.
    uint64_t parts_using(const GlobalValue &g)
    {
        uint64_t mask = 0;
        SmallVector<const User *, 16> work(g.user_begin(), g.user_end());
        while (!work.empty()) {
            const User *u = work.pop_back_val();
            if (const auto *inst = dyn_cast<Instruction>(u))
                mask |= uint64_t(1) << part_of[index.lookup(inst->getFunction())];
            else if (isa<GlobalValue>(u))
                mask |= 1;
            else
                work.append(u->user_begin(), u->user_end());
        }
        return mask;
    }

    uint64_t bytes(const GlobalVariable &v) const { return module.getDataLayout().getTypeAllocSize(v.getValueType()); }

    bool large(const GlobalValue *g) const
    {
        const auto *v = dyn_cast<GlobalVariable>(g);
        return v && v->hasInitializer() && bytes(*v) >= large_constant_bytes;
    }

    bool copied(const GlobalVariable &v) const
    {
        return v.hasLocalLinkage() && v.isConstant() && v.hasInitializer() && bytes(v) <= small_constant_bytes;
    }

    int home_of(const GlobalValue &g)
    {
        if (const auto *f = dyn_cast<Function>(&g)) return f->isDeclaration() ? -1 : part_of[index.lookup(f)];
        return large(&g) ? parts : 0; // `parts`: the data part
    }

    // Local symbols referred to from a part other than their home become hidden external ones.
    void externalise()
    {
        auto visit = [&](GlobalValue &g) {
            if (g.isDeclaration()) return;
            uint64_t mask = parts_using(g);
            used_by[&g] = mask;
            const auto *v = dyn_cast<GlobalVariable>(&g);
            if (!g.hasLocalLinkage() || (v && copied(*v))) return;
            if ((mask & ~(uint64_t(1) << home_of(g))) == 0) return;
            if (!g.hasName()) g.setName("xaic.split");
            g.setLinkage(GlobalValue::ExternalLinkage);
            g.setVisibility(GlobalValue::HiddenVisibility);
        };
        for (Function &f : module) visit(f);
        for (GlobalVariable &v : module.globals()) visit(v);
    }

    bool defined_in(const GlobalValue *g, int p)
    {
        if (const auto *v = dyn_cast<GlobalVariable>(g))
            if (copied(*v)) return (used_by.lookup(g) >> p) & 1;
        return home_of(*g) == p;
    }

    std::unique_ptr<Module> clone_part(int p)
    {
        ValueToValueMapTy map;
        std::unique_ptr<Module> part = CloneModule(module, map, [&](const GlobalValue *g) { return defined_in(g, p); });
        // declarations left of what this part neither defines nor uses (CloneModule keeps every symbol)
        for (Function &f : make_early_inc_range(*part))
            if (f.isDeclaration() && f.use_empty() && !f.isIntrinsic()) f.eraseFromParent();
        for (GlobalVariable &v : make_early_inc_range(part->globals()))
            if (v.isDeclaration() && v.use_empty()) v.eraseFromParent();
        return part;
    }

    LLVMMemoryBufferRef bitcode_of_part(int p)
    {
        std::unique_ptr<Module> part = clone_part(p);
        SmallVector<char, 0> bytes;
        raw_svector_ostream os(bytes);
        WriteBitcodeToFile(*part, os);
        return LLVMCreateMemoryBufferWithMemoryRangeCopy(bytes.data(), bytes.size(), "part");
    }
};

} // namespace

extern "C" int emit_split_module(LLVMModuleRef mod, int parts, LLVMMemoryBufferRef *bitcode, LLVMModuleRef *data)
{
    if (parts < 2 || parts > 63) return 1;
    splitter s(*unwrap(mod), parts);
    s.group_units();
    s.place_units();
    s.externalise();
    for (int p = 0; p < parts; p++) bitcode[p] = s.bitcode_of_part(p);
    *data = nullptr;
    for (const GlobalVariable &v : s.module.globals())
        if (s.large(&v)) {
            *data = wrap(s.clone_part(parts).release());
            break;
        }
    return 0;
}
