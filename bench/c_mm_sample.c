// SPDX-License-Identifier: GPL-2.0
/*
 * The C reference of make bench: /dev/c-mm-sample, the hot paths of the Rust
 * sample samples/rust/rust_mm_sample.rs in plain C, behind the same userspace
 * interface (samples/rust/rust_mm_sample.h).
 *
 * It does what the sample does, step for step and with the same locks: mmap
 * stashes the mm (mmgrab) and installs vm_ops whose data is the open file
 * (refusing splits and moves, and forgetting the mapping only when its own VMA
 * closes); the INSERT ioctls take an mmgrab reference under the file's
 * spinlock, allocate a page (charged to the memory cgroup), prepare its data
 * in the file's page-sized buffer under the file's mutex and copy it into the
 * page at once (through kmap_local_page()), mmget_not_zero(), take the per-VMA
 * lock (or the mmap read lock, or on request the write lock), look the VMA up,
 * check that it is the file's own, claim the page's index, vm_insert_page(),
 * record the page under the spinlock, with its slot (made by mmap for every
 * page of the mapping, holding a reference on the file) put on the shrinker's
 * list_lru, and count it; ZAP does the same under the mmap read lock with
 * zap_page_range_single(), and takes the slot off the list and frees the page,
 * under the spinlock. The mm references are dropped
 * with mmput_async() and mmdrop(), in the sample's order. In a mapping made at
 * RUST_MM_SAMPLE_ON_FAULT_PGOFF, the fault handler checks that the VMA is the
 * file's mapping, waits for the claim on the page's index, and maps the page
 * the file holds there or a new one, filled as INSERT fills it.
 *
 * Where the sample uses a Rust abstraction, this calls the C function the
 * abstraction wraps, so the difference between the two is the cost of the
 * abstractions. What is not on a hot path is left out: the shrinker that walks
 * the list.
 *
 * A benchmark only: not part of the series.
 */

#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/kref.h>
#include <linux/list_lru.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "c_mm_common.h"
#include "mm_bench.h"
#include "rust_mm_sample.h"

#define MAX_PAGES RUST_MM_SAMPLE_MAX_PAGES

/* The slots of the pages the driver holds, oldest first. */
static struct list_lru cms_lru;

/* The node of every record, as in the Rust sample's ListLru. */
#define CMS_NID ((int)first_node(node_possible_map))

struct cms_file;

/* The place of page index of file's mapping on cms_lru: the sample's PageSlot. */
struct cms_slot {
	struct list_head lru;
	struct cms_file *file;		/* a reference on the file */
	unsigned long index;
};

/* The driver's counters, for STATS. */
static atomic64_t held, inserted, zapped, reclaimed, freed, files, faulted;

/* An open file of the device. It is also the data of its mapping's VMA. */
struct cms_file {
	struct kref ref;		/* one for the file, one per VMA */
	spinlock_t lock;		/* protects what follows */
	struct mm_struct *mm;		/* mmgrab()ed by mmap, or NULL */
	unsigned long start;		/* where the mapping starts */
	unsigned long npages;		/* how many pages it has */
	bool mapped;			/* set by mmap, cleared by close */
	struct page *pages[MAX_PAGES];	/* the driver's pages */
	struct cms_slot *slots[MAX_PAGES]; /* one per page of the mapping */
	bool on_fault;			/* the mapping is fault-driven */
	unsigned long busy;		/* indices an INSERT or ZAP works on */
	wait_queue_head_t released;	/* woken when a claim goes */
	struct mutex source_lock;	/* protects source */
	u8 *source;			/* PAGE_SIZE bytes for INSERT */
};

static const struct vm_operations_struct cms_vm_ops;

/* Takes n pages off held and adds them to counter. */
static void give_back(atomic64_t *counter, unsigned long n)
{
	atomic64_add(n, counter);
	atomic64_sub(n, &held);
}

static void cms_free(struct kref *ref)
{
	struct cms_file *f = container_of(ref, struct cms_file, ref);

	kfree(f->source);
	kfree(f);
	atomic64_dec(&files);
}

/* Takes the n slots off cms_lru and frees them, with no lock held. */
static void cms_free_slots(struct cms_slot **slots, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++) {
		if (!slots[i])
			continue;
		list_lru_del(&cms_lru, &slots[i]->lru, CMS_NID, NULL);
		kref_put(&slots[i]->file->ref, cms_free);
		kfree(slots[i]);
	}
}

static void cms_vm_open(struct vm_area_struct *vma)
{
	struct cms_file *f = vma->vm_private_data;

	kref_get(&f->ref);
}

/*
 * Whether vma is the file's own mapping, not a fork copy or the target of a
 * refused mremap, as the sample's Mapping::is_own(). Called with f->lock held.
 */
static bool cms_is_own(struct cms_file *f, struct vm_area_struct *vma)
{
	return f->mapped && vma->vm_start == f->start && vma->vm_mm == f->mm;
}

static void cms_vm_close(struct vm_area_struct *vma)
{
	struct cms_file *f = vma->vm_private_data;
	struct cms_slot *slots[MAX_PAGES];
	struct page *pages[MAX_PAGES];
	unsigned long i, n = 0;

	spin_lock(&f->lock);
	/* A fork copy, or the target of a refused mremap: not the mapping. */
	if (!cms_is_own(f, vma)) {
		spin_unlock(&f->lock);
		kref_put(&f->ref, cms_free);
		return;
	}
	f->mapped = false;
	for (i = 0; i < MAX_PAGES; i++) {
		pages[i] = f->pages[i];
		f->pages[i] = NULL;
		n += !!pages[i];
		slots[i] = f->slots[i];
		f->slots[i] = NULL;
	}
	spin_unlock(&f->lock);
	give_back(&freed, n);
	for (i = 0; i < MAX_PAGES; i++)
		if (pages[i])
			__free_page(pages[i]);
	cms_free_slots(slots, MAX_PAGES);
	kref_put(&f->ref, cms_free);
}

static vm_fault_t cms_vm_fault(struct vm_fault *vmf);

static int cms_vm_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static int cms_vm_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct vm_operations_struct cms_vm_ops = {
	.open = cms_vm_open,
	.close = cms_vm_close,
	.may_split = cms_vm_may_split,
	.mremap = cms_vm_mremap,
	.fault = cms_vm_fault,
};

/* Whether vma is the mapping of f, like VmAreaRef::as_driver_vma. */
static bool cms_own_vma(struct vm_area_struct *vma, struct cms_file *f)
{
	return vma && vma->vm_ops == &cms_vm_ops && vma->vm_private_data == f;
}

/*
 * The stashed mm, with an mmgrab reference, and the address of page index, if
 * index is in the mapping, as the sample's Mapping::locate().
 */
static int cms_locate(struct cms_file *f, unsigned long index,
		      struct mm_struct **mm, unsigned long *addr)
{
	int ret = -EINVAL;

	spin_lock(&f->lock);
	if (f->mm && f->mapped && index < f->npages) {
		mmgrab(f->mm);
		*mm = f->mm;
		*addr = f->start + index * PAGE_SIZE;
		ret = 0;
	}
	spin_unlock(&f->lock);
	return ret;
}

/* Claims index, with a lock on the VMA held, as the sample's Claim::new(). */
static int cms_claim(struct cms_file *f, unsigned long index)
{
	int ret = 0;

	spin_lock(&f->lock);
	if (__test_and_set_bit(index, &f->busy))
		ret = -EBUSY;
	spin_unlock(&f->lock);
	return ret;
}

/*
 * Claims index, waiting while another holds it, as the sample's Claim::wait()
 * does with CondVar::wait().
 */
static void cms_claim_wait(struct cms_file *f, unsigned long index)
{
	spin_lock(&f->lock);
	while (__test_and_set_bit(index, &f->busy)) {
		DEFINE_WAIT(wait);

		prepare_to_wait_exclusive(&f->released, &wait, TASK_UNINTERRUPTIBLE);
		spin_unlock(&f->lock);
		schedule();
		finish_wait(&f->released, &wait);
		spin_lock(&f->lock);
	}
	spin_unlock(&f->lock);
}

/*
 * What Page::write_raw() is in Linux 6.12: a function of the kernel crate,
 * not inlined into modules, that maps the page through the exported helpers
 * and copies with memcpy(), not knowing len. Only for
 * MM_BENCH_SAMPLE_INSERT_RUST_FILL.
 */
static noinline int cms_write_raw(struct page *page, const void *src,
				  size_t offset, size_t len)
{
	void *dst;

	/* Its callers' len must not turn the memcpy() into moves. */
	OPTIMIZER_HIDE_VAR(len);
	if (offset > PAGE_SIZE || len > PAGE_SIZE || offset + len > PAGE_SIZE)
		return -EINVAL;
	dst = cmb_helper(kmap_local_page)(page);
	memcpy(dst + offset, src, len);
	cmb_helper(kunmap_local)(dst);
	return 0;
}

/*
 * Allocates a page whose every byte is fill, as the sample's filled_page: the
 * data is prepared in the file's buffer and copied into the page at once; with
 * rust_fill, through cms_write_raw().
 */
static __always_inline struct page *cms_filled_page(struct cms_file *f, u8 fill,
						    bool rust_fill)
{
	struct page *page = alloc_page(GFP_KERNEL_ACCOUNT);
	void *dst;

	if (!page)
		return NULL;
	mutex_lock(&f->source_lock);
	memset(f->source, fill, PAGE_SIZE);
	if (rust_fill) {
		if (cms_write_raw(page, f->source, 0, PAGE_SIZE)) {
			mutex_unlock(&f->source_lock);
			__free_page(page);
			return NULL;
		}
	} else {
		dst = kmap_local_page(page);
		memcpy(dst, f->source, PAGE_SIZE);
		kunmap_local(dst);
	}
	mutex_unlock(&f->source_lock);
	return page;
}

/*
 * Remembers a page that was just inserted, with a lock on its VMA held (so the
 * mapping cannot have been closed since the lookup).
 */
static void cms_record(struct cms_file *f, unsigned long index,
		       struct page *page)
{
	struct page *old;

	spin_lock(&f->lock);
	/* The slot goes on the list (if it is not there); the list's lock nests. */
	if (f->slots[index])
		list_lru_add(&cms_lru, &f->slots[index]->lru, CMS_NID, NULL);
	old = f->pages[index];
	f->pages[index] = page;
	spin_unlock(&f->lock);
	atomic64_inc(&inserted);
	atomic64_inc(&held);
	/* vm_insert_page refuses an address that is mapped: MADV_DONTNEED. */
	if (old) {
		give_back(&freed, 1);
		__free_page(old);
	}
}

/* Drops the claim on index, as dropping the sample's Claim does. */
static void cms_unclaim(struct cms_file *f, unsigned long index)
{
	spin_lock(&f->lock);
	__clear_bit(index, &f->busy);
	spin_unlock(&f->lock);
	wake_up_all(&f->released);
}

/* Inserts page at addr of the file's VMA vma and records it. */
static int cms_insert_into(struct cms_file *f, struct vm_area_struct *vma,
			   unsigned long index, unsigned long addr,
			   struct page *page)
{
	int ret;

	if (!cms_own_vma(vma, f))
		return -ENXIO;
	ret = cms_claim(f, index);
	if (ret)
		return ret;
	ret = vm_insert_page(vma, addr, page);
	if (!ret)
		cms_record(f, index, page);
	cms_unclaim(f, index);
	return ret;
}

/*
 * INSERT and INSERT_WRITE_LOCKED; with rust_fill, the page is filled as by
 * Page::write_raw().
 */
static __always_inline int cms_insert(struct cms_file *f,
				      const struct rust_mm_sample_insert *args,
				      bool write_locked, bool rust_fill)
{
	unsigned long index = args->index;
	struct vm_area_struct *vma;
	struct page *page;
	struct mm_struct *mm;
	unsigned long addr;
	int ret;

	/* No check for a page held at index: see MADV_DONTNEED in cms_record(). */
	ret = cms_locate(f, index, &mm, &addr);
	if (ret)
		return ret;

	page = cms_filled_page(f, args->fill, rust_fill);
	if (!page) {
		ret = -ENOMEM;
		goto out_mmdrop;
	}
	/*
	 * The process may have exited. Drop the mmget reference with
	 * mmput_async: this may be the last one.
	 */
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out_free;
	}
	if (write_locked) {
		mmap_write_lock(mm);
		ret = cms_insert_into(f, vma_lookup(mm, addr), index, addr, page);
		mmap_write_unlock(mm);
	} else {
		vma = cmb_lock_vma_under_rcu(mm, addr);
		if (vma) {
			ret = cms_insert_into(f, vma, index, addr, page);
			vma_end_read(vma);
		} else {
			mmap_read_lock(mm);
			ret = cms_insert_into(f, vma_lookup(mm, addr), index,
					      addr, page);
			mmap_read_unlock(mm);
		}
	}
	mmput_async(mm);
	if (!ret)
		page = NULL; /* the file owns it now */
out_free:
	if (page)
		__free_page(page);
out_mmdrop:
	mmdrop(mm);
	return ret;
}

/*
 * Zaps page index at addr of vma, drops the driver's reference to it, and
 * returns how many pages the driver held there (0 or 1).
 */
static unsigned long cms_zap_page(struct cms_file *f, struct vm_area_struct *vma,
				  unsigned long index, unsigned long addr)
{
	struct page *page;

	if (addr < vma->vm_start || addr + PAGE_SIZE > vma->vm_end)
		return 0;
	zap_page_range_single(vma, addr, PAGE_SIZE, NULL);
	spin_lock(&f->lock);
	page = f->pages[index];
	f->pages[index] = NULL;
	if (page && f->slots[index])
		list_lru_del(&cms_lru, &f->slots[index]->lru, CMS_NID, NULL);
	spin_unlock(&f->lock);
	if (!page)
		return 0;
	__free_page(page);
	return 1;
}

/* ZAP. */
static int cms_zap_one(struct cms_file *f, unsigned long index)
{
	struct vm_area_struct *vma;
	struct mm_struct *mm;
	unsigned long addr;
	unsigned long n = 0;
	int ret;

	ret = cms_locate(f, index, &mm, &addr);
	if (ret)
		return ret;
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out_mmdrop;
	}
	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!cms_own_vma(vma, f)) {
		ret = -ENXIO;
	} else {
		ret = cms_claim(f, index);
		if (!ret) {
			n = cms_zap_page(f, vma, index, addr);
			cms_unclaim(f, index);
		}
	}
	mmap_read_unlock(mm);
	if (!ret) {
		give_back(&zapped, n);
		if (!n)
			ret = -ENOENT;
	}
	mmput_async(mm);
out_mmdrop:
	mmdrop(mm);
	return ret;
}

/*
 * The fault handler, as the sample's VmOperations::fault: in the file's own
 * fault-driven mapping, maps the page the file holds at the index (dropped by
 * MADV_DONTNEED) or a new one, under the claim on the index.
 */
static vm_fault_t cms_vm_fault(struct vm_fault *vmf)
{
	struct cms_file *f = vmf->vma->vm_private_data;
	unsigned long index;
	struct page *page;
	bool new = false;
	int err;

	spin_lock(&f->lock);
	if (!f->on_fault || !cms_is_own(f, vmf->vma)) {
		spin_unlock(&f->lock);
		return VM_FAULT_SIGBUS;
	}
	index = (vmf->address - f->start) / PAGE_SIZE;
	spin_unlock(&f->lock);
	cms_claim_wait(f, index);
	/* Taken out while it is mapped, as in the sample. */
	spin_lock(&f->lock);
	page = f->pages[index];
	f->pages[index] = NULL;
	spin_unlock(&f->lock);
	if (!page) {
		page = cms_filled_page(f, RUST_MM_SAMPLE_FAULT_FILL(index), false);
		if (!page) {
			cms_unclaim(f, index);
			return VM_FAULT_OOM;
		}
		new = true;
	}
	err = vm_insert_page(vmf->vma, vmf->address, page);
	if (!err && new) {
		cms_record(f, index, page);
		atomic64_inc(&faulted);
	} else if (new) {
		__free_page(page);
	} else {
		spin_lock(&f->lock);
		f->pages[index] = page;
		spin_unlock(&f->lock);
	}
	cms_unclaim(f, index);
	if (!err || err == -EBUSY)
		return VM_FAULT_NOPAGE;
	return err == -ENOMEM ? VM_FAULT_OOM : VM_FAULT_SIGBUS;
}

static int cms_open(struct inode *inode, struct file *file)
{
	struct cms_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	f->source = kzalloc(PAGE_SIZE, GFP_KERNEL);
	if (!f->source) {
		kfree(f);
		return -ENOMEM;
	}
	atomic64_inc(&files);
	kref_init(&f->ref);
	spin_lock_init(&f->lock);
	init_waitqueue_head(&f->released);
	mutex_init(&f->source_lock);
	file->private_data = f;
	return 0;
}

static int cms_release(struct inode *inode, struct file *file)
{
	struct cms_file *f = file->private_data;
	struct mm_struct *mm;

	/* The mapping is gone too (it holds a reference), so there are no pages. */
	spin_lock(&f->lock);
	mm = f->mm;
	f->mm = NULL;
	spin_unlock(&f->lock);
	if (mm)
		mmdrop(mm);
	kref_put(&f->ref, cms_free);
	return 0;
}

static int cms_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start;
	struct cms_file *f = file->private_data;
	struct cms_slot *slots[MAX_PAGES] = {};
	struct mm_struct *old;
	bool on_fault = vma->vm_pgoff == RUST_MM_SAMPLE_ON_FAULT_PGOFF;
	unsigned long i;

	if (size > MAX_PAGES * PAGE_SIZE || (vma->vm_pgoff && !on_fault))
		return -EINVAL;
	/* Read-only and not executable, for good: mprotect() fails later too. */
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EINVAL;
	for (i = 0; i < size / PAGE_SIZE; i++) {
		slots[i] = kmalloc(sizeof(*slots[i]), GFP_KERNEL);
		if (!slots[i]) {
			cms_free_slots(slots, i);
			return -ENOMEM;
		}
		INIT_LIST_HEAD(&slots[i]->lru);
		kref_get(&f->ref);
		slots[i]->file = f;
		slots[i]->index = i;
	}
	spin_lock(&f->lock);
	if (f->mapped) {
		spin_unlock(&f->lock);
		cms_free_slots(slots, i);
		return -EBUSY;
	}
	memcpy(f->slots, slots, sizeof(slots));
	f->start = vma->vm_start;
	f->npages = size / PAGE_SIZE;
	f->mapped = true;
	f->on_fault = on_fault;
	old = f->mm;
	f->mm = vma->vm_mm;
	mmgrab(f->mm);
	spin_unlock(&f->lock);
	if (old)
		mmdrop(old);
	vm_flags_mod(vma, VM_DONTCOPY | VM_MIXEDMAP | VM_DONTEXPAND, VM_MAYWRITE | VM_MAYEXEC);
	kref_get(&f->ref);
	vma->vm_private_data = f;
	vma->vm_ops = &cms_vm_ops;
	return 0;
}

static long cms_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct cms_file *f = file->private_data;
	struct rust_mm_sample_insert args;
	struct rust_mm_sample_stats stats;

	switch (cmd) {
	case RUST_MM_SAMPLE_INSERT:
	case RUST_MM_SAMPLE_INSERT_WRITE_LOCKED:
		if (copy_from_user(&args, (void __user *)arg, sizeof(args)))
			return -EFAULT;
		return cms_insert(f, &args,
				  cmd == RUST_MM_SAMPLE_INSERT_WRITE_LOCKED,
				  false);
	case MM_BENCH_SAMPLE_INSERT_RUST_FILL:
		if (copy_from_user(&args, (void __user *)arg, sizeof(args)))
			return -EFAULT;
		return cms_insert(f, &args, false, true);
	case RUST_MM_SAMPLE_ZAP:
		return cms_zap_one(f, arg);
	case RUST_MM_SAMPLE_STATS:
		stats.held = atomic64_read(&held);
		stats.inserted = atomic64_read(&inserted);
		stats.zapped = atomic64_read(&zapped);
		stats.reclaimed = atomic64_read(&reclaimed);
		stats.freed = atomic64_read(&freed);
		stats.files = atomic64_read(&files);
		stats.faulted = atomic64_read(&faulted);
		if (copy_to_user((void __user *)arg, &stats, sizeof(stats)))
			return -EFAULT;
		return 0;
	default:
		return -ENOTTY;
	}
}

static const struct file_operations cms_fops = {
	.owner = THIS_MODULE,
	.open = cms_open,
	.release = cms_release,
	.mmap = cms_mmap,
	.unlocked_ioctl = cms_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice cms_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "c-mm-sample",
	.fops = &cms_fops,
};

static int __init cms_init(void)
{
	int ret = list_lru_init(&cms_lru);

	if (ret)
		return ret;
	ret = misc_register(&cms_misc);
	if (ret)
		list_lru_destroy(&cms_lru);
	return ret;
}
module_init(cms_init);

static void __exit cms_exit(void)
{
	misc_deregister(&cms_misc);
	list_lru_destroy(&cms_lru);
}
module_exit(cms_exit);

MODULE_AUTHOR("Rust for Linux Contributors");
MODULE_DESCRIPTION("C reference of the Rust mm sample's hot paths");
MODULE_LICENSE("GPL");
