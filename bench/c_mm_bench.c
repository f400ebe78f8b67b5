// SPDX-License-Identifier: GPL-2.0
/*
 * C side of make bench: /dev/c-mm-bench, the operations of
 * bench/rust_mm_bench.rs in plain C, with the same locks in the same order
 * (userspace interface: bench/mm_bench.h). bench/mm_bench.c runs the two side
 * by side. A benchmark only: not part of the series.
 */

#include <linux/fs.h>
#include <linux/kref.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "c_mm_common.h"
#include "mm_bench.h"

/* An open file of the device. It is also the data of its mapping's VMA. */
struct cmb_file {
	struct kref ref;	/* one for the file, one per VMA */
	spinlock_t lock;	/* protects mm, start and mapped */
	struct mm_struct *mm;	/* mmgrab()ed by mmap, or NULL */
	unsigned long start;	/* where the mapping starts */
	bool mapped;		/* set by mmap, cleared by close */
	struct page *page;	/* inserted and zapped by the INSERT_ZAP ops */
};

/* One iteration of an operation: < 0 error, 1 fell back to the mmap lock. */
typedef int (*cmb_op_t)(struct cmb_file *f, struct mm_struct *mm,
			unsigned long addr);

static const struct vm_operations_struct cmb_vm_ops;

static void cmb_free(struct kref *ref)
{
	struct cmb_file *f = container_of(ref, struct cmb_file, ref);

	__free_page(f->page);
	kfree(f);
}

static void cmb_vm_open(struct vm_area_struct *vma)
{
	struct cmb_file *f = vma->vm_private_data;

	kref_get(&f->ref);
}

static void cmb_vm_close(struct vm_area_struct *vma)
{
	struct cmb_file *f = vma->vm_private_data;

	spin_lock(&f->lock);
	f->mapped = false;
	spin_unlock(&f->lock);
	kref_put(&f->ref, cmb_free);
}

static vm_fault_t cmb_vm_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

static const struct vm_operations_struct cmb_vm_ops = {
	.open = cmb_vm_open,
	.close = cmb_vm_close,
	.fault = cmb_vm_fault,
};

/* Whether vma is the mapping of f, like VmAreaRef::as_driver_vma. */
static bool cmb_own_vma(struct vm_area_struct *vma, struct cmb_file *f)
{
	return vma->vm_ops == &cmb_vm_ops && vma->vm_private_data == f;
}

/* MM_BENCH_LOOKUP: the lookup sequence of the sample's ZAP. */
static noinline int cmb_lookup(struct cmb_file *f, struct mm_struct *mm,
			       unsigned long addr)
{
	struct vm_area_struct *vma;
	int ret = 0;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma || !cmb_own_vma(vma, f))
		ret = -ENXIO;
	mmap_read_unlock(mm);
	mmput(mm);
	return ret;
}

/* MM_BENCH_VMA_LOCK: the lookup sequence of the sample's INSERT. */
static noinline int cmb_vma_lock(struct cmb_file *f, struct mm_struct *mm,
				 unsigned long addr)
{
	struct vm_area_struct *vma;
	int ret;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	vma = cmb_lock_vma_under_rcu(mm, addr);
	if (vma) {
		ret = cmb_own_vma(vma, f) ? 0 : -ENXIO;
		vma_end_read(vma);
	} else {
		mmap_read_lock(mm);
		vma = vma_lookup(mm, addr);
		ret = vma && cmb_own_vma(vma, f) ? 1 : -ENXIO;
		mmap_read_unlock(mm);
	}
	mmput(mm);
	return ret;
}

/* MM_BENCH_LOOKUP_HELPERS: cmb_lookup through the Rust helpers. */
static noinline int cmb_lookup_helpers(struct cmb_file *f,
				       struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;
	int ret = 0;

	if (!cmb_helper(mmget_not_zero)(mm))
		return -ESRCH;
	cmb_helper(mmap_read_lock)(mm);
	vma = cmb_helper(vma_lookup)(mm, addr);
	if (!vma || !cmb_own_vma(vma, f))
		ret = -ENXIO;
	cmb_helper(mmap_read_unlock)(mm);
	mmput(mm);
	return ret;
}

/* MM_BENCH_VMA_LOCK_HELPERS: cmb_vma_lock through the Rust helpers. */
static noinline int cmb_vma_lock_helpers(struct cmb_file *f,
					 struct mm_struct *mm,
					 unsigned long addr)
{
	struct vm_area_struct *vma;
	int ret;

	if (!cmb_helper(mmget_not_zero)(mm))
		return -ESRCH;
	vma = cmb_lock_vma_under_rcu(mm, addr);
	if (vma) {
		ret = cmb_own_vma(vma, f) ? 0 : -ENXIO;
		cmb_helper(vma_end_read)(vma);
	} else {
		cmb_helper(mmap_read_lock)(mm);
		vma = cmb_helper(vma_lookup)(mm, addr);
		ret = vma && cmb_own_vma(vma, f) ? 1 : -ENXIO;
		cmb_helper(mmap_read_unlock)(mm);
	}
	mmput(mm);
	return ret;
}

/* Inserts the file's page at addr and zaps it again. */
static inline int cmb_insert_zap(struct cmb_file *f,
				 struct vm_area_struct *vma, unsigned long addr)
{
	int ret = vm_insert_page(vma, addr, f->page);

	if (ret)
		return ret;
	zap_page_range_single(vma, addr, PAGE_SIZE, NULL);
	return 0;
}

/*
 * MM_BENCH_INSERT_ZAP_VMA: insert and zap under the per-VMA lock, as the
 * sample's INSERT.
 */
static noinline int cmb_insert_zap_vma(struct cmb_file *f,
				       struct mm_struct *mm, unsigned long addr)
{
	struct vm_area_struct *vma;
	int ret;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	vma = cmb_lock_vma_under_rcu(mm, addr);
	if (vma) {
		ret = cmb_own_vma(vma, f) ? cmb_insert_zap(f, vma, addr) : -ENXIO;
		vma_end_read(vma);
	} else {
		mmap_read_lock(mm);
		vma = vma_lookup(mm, addr);
		ret = vma && cmb_own_vma(vma, f) ?
			cmb_insert_zap(f, vma, addr) : -ENXIO;
		if (!ret)
			ret = 1;
		mmap_read_unlock(mm);
	}
	mmput_async(mm);
	return ret;
}

/* MM_BENCH_INSERT_ZAP_MMAP: insert and zap under the mmap read lock. */
static noinline int cmb_insert_zap_mmap(struct cmb_file *f,
					struct mm_struct *mm,
					unsigned long addr)
{
	struct vm_area_struct *vma;
	int ret;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	ret = vma && cmb_own_vma(vma, f) ? cmb_insert_zap(f, vma, addr) : -ENXIO;
	mmap_read_unlock(mm);
	mmput_async(mm);
	return ret;
}

static long cmb_run(struct cmb_file *f, unsigned long arg)
{
	struct mm_bench_run __user *uarg = (void __user *)arg;
	struct mm_bench_run run;
	struct mm_struct *mm;
	unsigned long addr;
	u64 fallbacks = 0;
	cmb_op_t op;
	int ret = 0;
	u64 start;
	u32 i;

	if (copy_from_user(&run, uarg, sizeof(run)))
		return -EFAULT;
	switch (run.op) {
	case MM_BENCH_LOOKUP:
		op = cmb_lookup;
		break;
	case MM_BENCH_VMA_LOCK:
		op = cmb_vma_lock;
		break;
	case MM_BENCH_INSERT_ZAP_VMA:
		op = cmb_insert_zap_vma;
		break;
	case MM_BENCH_INSERT_ZAP_MMAP:
		op = cmb_insert_zap_mmap;
		break;
	case MM_BENCH_LOOKUP_HELPERS:
		op = cmb_lookup_helpers;
		break;
	case MM_BENCH_VMA_LOCK_HELPERS:
		op = cmb_vma_lock_helpers;
		break;
	default:
		return -EINVAL;
	}

	/* As the sample's locate: an mmgrab reference for the run. */
	spin_lock(&f->lock);
	if (!f->mm || !f->mapped) {
		spin_unlock(&f->lock);
		return -EINVAL;
	}
	mm = f->mm;
	mmgrab(mm);
	addr = f->start;
	spin_unlock(&f->lock);

	start = ktime_get_ns();
	for (i = 0; i < run.iters; i++) {
		ret = op(f, mm, addr);
		if (ret < 0)
			break;
		fallbacks += ret;
	}
	run.ns = ktime_get_ns() - start;
	run.fallbacks = fallbacks;
	if (ret >= 0 && copy_to_user(uarg, &run, sizeof(run)))
		ret = -EFAULT;
	mmdrop(mm);
	return ret < 0 ? ret : 0;
}

static int cmb_open(struct inode *inode, struct file *file)
{
	struct cmb_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	f->page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!f->page) {
		kfree(f);
		return -ENOMEM;
	}
	kref_init(&f->ref);
	spin_lock_init(&f->lock);
	file->private_data = f;
	return 0;
}

static int cmb_release(struct inode *inode, struct file *file)
{
	struct cmb_file *f = file->private_data;
	struct mm_struct *mm;

	spin_lock(&f->lock);
	mm = f->mm;
	f->mm = NULL;
	spin_unlock(&f->lock);
	if (mm)
		mmdrop(mm);
	kref_put(&f->ref, cmb_free);
	return 0;
}

static int cmb_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct cmb_file *f = file->private_data;
	struct mm_struct *old;

	if (vma->vm_end - vma->vm_start > MM_BENCH_MAX_PAGES * PAGE_SIZE ||
	    vma->vm_pgoff)
		return -EINVAL;
	if (vma->vm_flags & VM_WRITE)
		return -EINVAL;
	spin_lock(&f->lock);
	if (f->mapped) {
		spin_unlock(&f->lock);
		return -EBUSY;
	}
	f->start = vma->vm_start;
	f->mapped = true;
	old = f->mm;
	f->mm = vma->vm_mm;
	mmgrab(f->mm);
	spin_unlock(&f->lock);
	if (old)
		mmdrop(old);
	vm_flags_mod(vma, VM_DONTCOPY | VM_MIXEDMAP | VM_DONTEXPAND, VM_MAYWRITE);
	kref_get(&f->ref);
	vma->vm_private_data = f;
	vma->vm_ops = &cmb_vm_ops;
	return 0;
}

static long cmb_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case MM_BENCH_RUN:
		return cmb_run(file->private_data, arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations cmb_fops = {
	.owner = THIS_MODULE,
	.open = cmb_open,
	.release = cmb_release,
	.mmap = cmb_mmap,
	.unlocked_ioctl = cmb_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice cmb_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "c-mm-bench",
	.fops = &cmb_fops,
};

module_misc_device(cmb_misc);

MODULE_AUTHOR("Rust for Linux Contributors");
MODULE_DESCRIPTION("C side of the mm benchmark");
MODULE_LICENSE("GPL");
